"""When a pipeline's data for a period is due (pipeline.yaml ``expect: {by: …}``).

Two shapes, as data teams state them: a time of day (``06:00``, UTC) — the data of a period
is due at that time on the day its run window opens (the period's start less the pipeline's
offset: the day whose 03:00 run processes yesterday is the day yesterday's data is due) —
or a duration after the period's end (``45m``), for hourly data. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from dpc.triggers.periods import Period, PeriodSpec

_TIME_OF_DAY = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_DURATION = re.compile(r"(?=\d)(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?")
MAX_AFTER_END = timedelta(days=31)
"""A period's data due more than a month after it ends is not a deadline anyone watches."""


class DeadlineError(ValueError):
    """An ``expect.by`` that is neither ``HH:MM`` nor a duration such as ``45m``."""


@dataclass(frozen=True)
class Expect:
    """``at``: a UTC time of day; ``after_end``: a duration after the period's end (one of
    the two is set)."""

    at: time | None = None
    after_end: timedelta | None = None

    def due(self, period: Period, spec: PeriodSpec) -> datetime:
        """The moment ``period``'s data is due, for a pipeline whose period is ``spec``."""
        if self.after_end is not None:
            return period.end + self.after_end
        assert self.at is not None
        opens = period.start - spec.offset
        due = opens.replace(hour=self.at.hour, minute=self.at.minute, second=0, microsecond=0)
        return due if due >= opens else due + timedelta(days=1)

    def __str__(self) -> str:
        if self.at is not None:
            return self.at.strftime("%H:%M")
        assert self.after_end is not None
        minutes = int(self.after_end.total_seconds()) // 60
        days, rest = divmod(minutes, 24 * 60)
        hours, minutes = divmod(rest, 60)
        text = "".join(f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m")) if n)
        return text or "0m"


def is_deadline_text(text: str) -> bool:
    """Whether ``text`` has one of the two shapes (the schema's pattern says the same)."""
    return bool(_TIME_OF_DAY.fullmatch(text) or _DURATION.fullmatch(text))


def parse_expect(text: str) -> Expect:
    """``06:00`` or ``45m`` / ``2h`` / ``1d6h``, as pipeline.yaml and the registry write it."""
    clock = _TIME_OF_DAY.fullmatch(text)
    if clock:
        return Expect(at=time(int(clock[1]), int(clock[2])))
    duration = _DURATION.fullmatch(text)
    if duration:
        days, hours, minutes = (int(part or 0) for part in duration.groups())
        after = timedelta(days=days, hours=hours, minutes=minutes)
        if after > MAX_AFTER_END:
            raise DeadlineError(f"'{text}' is more than {MAX_AFTER_END.days}d after the period")
        return Expect(after_end=after)
    raise DeadlineError(
        f"'{text}' is neither a UTC time of day (06:00) nor a duration after the period (45m)"
    )
