"""EventBridge schedule expressions: ``cron(...)`` with its six fields, and ``rate(...)``.

One parser serves three readers: the spec validator (ranges, with messages a user can act
on), the trigger engine (§5 rule 8: reset ticks) and the sandbox's virtual clock (firing
schedule rules). All times are UTC, as on EventBridge.

Fields: ``minute hour day-of-month month day-of-week year``. Day-of-month or day-of-week
must be ``?`` (not both values), as EventBridge requires. Day-of-week runs 1-7 = SUN-SAT.
Each field takes the wildcards the EventBridge docs list for it and no others, so that
``dpc validate`` refuses what a deploy would, as far as the docs tell: ``*``, lists, ranges
(wrapping past the top: hours ``20-2``) everywhere; steps (``/`` then a number) everywhere but
day-of-week; ``?``, ``L``, ``nW``, ``LW`` in day-of-month; ``?``, ``L``, ``nL``, ``n#k`` in
day-of-week, each of these the whole field.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
MAX_YEARS_AHEAD = 200
"""A search for the next tick gives up after this long: the expression never fires again."""


class CronError(ValueError):
    """An invalid schedule expression; the message names the field and what it allows."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    """Names for low, low+1, … (months, weekdays)."""
    wraps: bool = True
    """A range may run past the top back to the bottom (``20-2`` hours); not so for years."""
    max_step: int = 0
    """The largest ``/step`` EventBridge's (Quartz) cron takes: 59 minutes, 23 hours, 31 days,
    12 months; a larger one is refused at deploy."""
    wildcards: str = ", - * /"
    """As the docs' table lists them: without '/' the field takes no step (day-of-week), and a
    refusal says what the field does take."""
    whole: tuple[tuple[str, str], ...] = ()
    """(wildcard, the forms it takes): the field's own wildcards, each only the whole field, so
    a list or range holding one is told so rather than that 'L' is not a number."""

    @property
    def allowed(self) -> str:
        extra = f" or {self.names[0]}-{self.names[-1]}" if self.names else ""
        return f"{self.low}-{self.high}{extra}"


_MINUTE = _Field("minute", 0, 59, max_step=59)
_HOUR = _Field("hour", 0, 23, max_step=23)
_DAY_OF_MONTH = _Field(
    "day-of-month",
    1,
    31,
    max_step=31,
    wildcards=", - * ? / L W",
    whole=(("?", r"\?"), ("L", r"LW?"), ("W", r"(\d+|L)W")),
)
_MONTH = _Field("month", 1, 12, MONTHS, max_step=12)
_DAY_OF_WEEK = _Field(
    "day-of-week",
    1,
    7,
    WEEKDAYS,
    wildcards=", - * ? L #",
    whole=(("?", r"\?"), ("L", r"(\d+|[A-Z]{3})?L"), ("#", r"(\d+|[A-Z]{3})#\d+")),
)
_YEAR = _Field("year", 1970, 2199, wraps=False, max_step=2199 - 1970)
_FOREIGN = (
    ("?", r"\?", "day-of-month or day-of-week"),
    ("#", r"[0-9A-Z]*#[0-9]*", "day-of-week"),
    ("W", r"[0-9L]*W", "day-of-month"),
    ("L", r"[0-9A-Z]*L", "day-of-month or day-of-week"),
)
"""(wildcard, the shape of a token using it, the fields that take it), to tell a user who writes
one in another field where it belongs."""
RATE_LIMITS = {"minute": 525_600, "hour": 8_760, "day": 365}
"""The largest rate value per unit: a year. EventBridge takes a positive integer; a longer
rate never fires within any run the engine or the sandbox looks at, so it is a typo."""

DayMatcher = Callable[[date], bool]


def _number(text: str) -> int | None:
    """The number ``text`` spells in ASCII digits, else None. ``str.isdigit`` alone also
    accepts '²' (which int() refuses), and int() refuses more than 4300 digits: a run of
    digits that long is only ever out of range, so it counts as a huge number."""
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text) if len(text) <= 100 else 10**100


def _value(token: str, field: _Field) -> int:
    upper = token.upper()
    if upper in field.names:
        return field.low + field.names.index(upper)
    value = _number(token)
    if value is None:
        raise _not_a_value(token, field)
    if not field.low <= value <= field.high:
        raise CronError(f"{field.name} field: {token} is out of range (allowed {field.allowed})")
    return value


def _not_a_value(token: str, field: _Field) -> CronError:
    """Why ``token``, neither a number nor a name, is refused: a wildcard of this field that
    must be the whole field, a wildcard of another field, or else simply not a number."""
    upper = token.upper()
    for wildcard, forms in field.whole:
        if re.fullmatch(forms, upper):
            return CronError(
                f"{field.name} field: '{token}' must be the whole field, not part of a list "
                f"or range ('{wildcard}' stands alone)"
            )
    for wildcard, shape, fields in _FOREIGN:
        if wildcard not in field.wildcards and re.fullmatch(shape, upper):
            named = "" if token == wildcard else f"'{token}': "
            return CronError(f"{field.name} field: {named}'{wildcard}' is only allowed in {fields}")
    return CronError(f"{field.name} field: '{token}' is not a number (allowed {field.allowed})")


def _values(text: str, field: _Field) -> frozenset[int]:
    """Expand ``*``, lists, ranges and steps into the set of values they select."""
    selected: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CronError(f"{field.name} field: empty list element in '{text}'")
        base, slash, step_text = part.partition("/")
        step = 1
        if slash and "/" not in field.wildcards:
            raise CronError(
                f"{field.name} field: '/' is not allowed ({field.name} takes {field.wildcards})"
            )
        if slash and not base:
            raise CronError(
                f"{field.name} field: '{part}' needs a start before the '/' (e.g. '0{part}' or "
                f"'*{part}')"
            )
        if slash:
            step = _number(step_text) or 0
            if not 1 <= step <= field.max_step:
                raise CronError(
                    f"{field.name} field: step '/{step_text}' must be a positive number, "
                    f"at most {field.max_step}"
                )
        if base == "*":
            start, end = field.low, field.high
        elif "-" in base:
            first, _, last = base.partition("-")
            if not first or not last:
                raise CronError(f"{field.name} field: range '{base}' needs a value at each end")
            start, end = _value(first, field), _value(last, field)
            if start > end and not field.wraps:
                raise CronError(f"{field.name} field: range '{base}' runs backwards")
        else:
            start = _value(base, field)
            end = field.high if slash else start
        selected.update(_walk(field, start, end)[::step])
    return frozenset(selected)


def _walk(field: _Field, start: int, end: int) -> list[int]:
    """start..end, wrapping past the field's top as EventBridge does: hours ``20-2`` are
    20, 21, 22, 23, 0, 1, 2 (the docs' ``cron(0/30 20-2 ? * MON-FRI *)``), weekdays
    ``FRI-MON`` are Friday to Monday."""
    if start <= end:
        return list(range(start, end + 1))
    return list(range(start, field.high + 1)) + list(range(field.low, end + 1))


def _weekday(day: date) -> int:
    """EventBridge numbering: 1 = Sunday … 7 = Saturday."""
    return (day.weekday() + 1) % 7 + 1


def _last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _nearest_weekday(day: date, target: int) -> int:
    """The weekday (Mon-Fri) nearest to ``target`` within the month, as ``15W`` means."""
    target = min(target, _last_day(day))
    candidate = day.replace(day=target)
    if candidate.weekday() == 5:  # Saturday → Friday, or Monday when the 1st
        return target - 1 if target > 1 else target + 2
    if candidate.weekday() == 6:  # Sunday → Monday, or Friday when the month's last day
        return target + 1 if target < _last_day(day) else target - 2
    return target


def _day_of_month_matcher(text: str) -> DayMatcher:
    upper = text.upper()
    if upper == "L":
        return lambda day: day.day == _last_day(day)
    if upper == "LW":
        return lambda day: day.day == _nearest_weekday(day, _last_day(day))
    if upper == "W":
        raise CronError(
            "day-of-month field: 'W' needs a day before it (e.g. '15W', the weekday nearest "
            "the 15th)"
        )
    if upper.endswith("W") and _number(upper[:-1]) is not None:
        target = _value(upper[:-1], _DAY_OF_MONTH)
        return lambda day: day.day == _nearest_weekday(day, target)
    days = _values(text, _DAY_OF_MONTH)
    return lambda day: day.day in days


def _day_of_week_matcher(text: str) -> DayMatcher:
    upper = text.upper()
    if upper == "L":
        return lambda day: _weekday(day) == 7
    if re.fullmatch(r"(\d+|[A-Z]{3})L", upper):
        weekday = _value(upper[:-1], _DAY_OF_WEEK)
        return lambda day: _weekday(day) == weekday and day.day + 7 > _last_day(day)
    if "#" in upper:
        if "," in upper:
            raise CronError(
                f"day-of-week field: '{text}': with '#' the field takes one expression only "
                "(e.g. '3#2', the second Tuesday)"
            )
        weekday_text, _, nth_text = upper.partition("#")
        weekday = _value(weekday_text, _DAY_OF_WEEK)
        nth = _number(nth_text) or 0
        if not 1 <= nth <= 5:
            raise CronError(f"day-of-week field: '#{nth_text}' must be 1-5 (the n-th weekday)")
        return lambda day: _weekday(day) == weekday and (day.day - 1) // 7 + 1 == nth
    weekdays = _values(text, _DAY_OF_WEEK)
    return lambda day: _weekday(day) in weekdays


@dataclass(frozen=True)
class CronExpression:
    """A parsed six-field cron; ``expression`` keeps the text as written (without ``cron()``)."""

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: frozenset[int]
    years: frozenset[int]
    day_of_month: DayMatcher | None
    day_of_week: DayMatcher | None

    def _day_matches(self, day: date) -> bool:
        if day.month not in self.months or day.year not in self.years:
            return False
        if self.day_of_month is not None and not self.day_of_month(day):
            return False
        return self.day_of_week is None or self.day_of_week(day)

    def matches(self, moment: datetime) -> bool:
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and self._day_matches(moment.date())
        )

    def next_after(self, moment: datetime) -> datetime | None:
        """The first tick strictly after ``moment`` (UTC), or None if there is none."""
        moment = _utc(moment)
        day = moment.date()
        last_day = day + timedelta(days=366 * MAX_YEARS_AHEAD)
        while day <= last_day:
            if day.year > _YEAR.high:
                return None
            if self._day_matches(day):
                for hour in self.hours:
                    for minute in self.minutes:
                        tick = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
                        if tick > moment:
                            return tick
            day += timedelta(days=1)
        return None

    def latest_at_or_before(self, moment: datetime) -> datetime | None:
        """The newest tick at or before ``moment`` (UTC), or None if there is none.

        Walks back day by day, but a whole month or year the expression excludes in one step,
        so a cron of one month of one year is found without visiting every day in between.
        """
        moment = _utc(moment)
        day = moment.date()
        while day.year >= _YEAR.low:
            if day.year not in self.years:
                day = date(day.year - 1, 12, 31)
            elif day.month not in self.months:
                day = day.replace(day=1) - timedelta(days=1)
            else:
                if self._day_matches(day):
                    for hour in reversed(self.hours):
                        for minute in reversed(self.minutes):
                            tick = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
                            if tick <= moment:
                                return tick
                day -= timedelta(days=1)
        return None

    def ticks_between(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Every tick in the half-open interval (start, end]."""
        tick = self.next_after(start)
        end = _utc(end)
        while tick is not None and tick <= end:
            yield tick
            tick = self.next_after(tick)


@dataclass(frozen=True)
class RateExpression:
    value: int
    unit: str
    """``minute``, ``minutes``, ``hour``, ``hours``, ``day`` or ``days``, as EventBridge wants."""

    @property
    def interval(self) -> timedelta:
        return timedelta(**{self.unit.rstrip("s") + "s": self.value})

    @property
    def expression(self) -> str:
        return f"{self.value} {self.unit}"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _unwrap(text: str, keyword: str) -> str:
    text = text.strip()
    match = re.fullmatch(rf"{keyword}\((.*)\)", text, flags=re.DOTALL)
    return match.group(1).strip() if match else text


_FIELDS = {field.name: field for field in (_MINUTE, _HOUR, _MONTH, _YEAR)}


def check_field(name: str, text: str) -> None:
    """Raise CronError when ``text`` is not valid in the named field (``minute``, ``hour``,
    ``day-of-month``, ``month``, ``day-of-week`` or ``year``). A validator checks each field on
    its own so that it reports every bad field of a schedule, not only the first."""
    if name == "day-of-month":
        if text != "?":
            _day_of_month_matcher(text)
    elif name == "day-of-week":
        if text != "?":
            _day_of_week_matcher(text)
    elif text == "?":
        raise CronError(f"{name} field: '?' is only allowed in day-of-month or day-of-week")
    else:
        _values(text, _FIELDS[name])


def parse_cron(text: str) -> CronExpression:
    """Parse ``0 3 * * ? *`` or ``cron(0 3 * * ? *)``."""
    expression = _unwrap(text, "cron")
    fields = expression.split()
    if len(fields) != 6:
        raise CronError(
            f"cron needs 6 fields (minute hour day-of-month month day-of-week year), "
            f"got {len(fields)} in '{expression}'"
        )
    minute, hour, day_of_month, month, day_of_week, year = fields
    if (day_of_month == "?") == (day_of_week == "?"):
        raise CronError(
            "cron: exactly one of day-of-month and day-of-week must be '?' "
            f"(e.g. '0 3 * * ? *'), got '{day_of_month}' and '{day_of_week}'"
        )
    for name, value in (("minute", minute), ("hour", hour), ("month", month), ("year", year)):
        if value == "?":
            raise CronError(f"{name} field: '?' is only allowed in day-of-month or day-of-week")
    return CronExpression(
        expression=expression,
        minutes=tuple(sorted(_values(minute, _MINUTE))),
        hours=tuple(sorted(_values(hour, _HOUR))),
        months=_values(month, _MONTH),
        years=_values(year, _YEAR),
        day_of_month=None if day_of_month == "?" else _day_of_month_matcher(day_of_month),
        day_of_week=None if day_of_week == "?" else _day_of_week_matcher(day_of_week),
    )


def parse_rate(text: str) -> RateExpression:
    """Parse ``1 hour`` or ``rate(5 minutes)``; EventBridge wants the singular unit for 1."""
    expression = _unwrap(text, "rate")
    match = re.fullmatch(r"([0-9]+)\s+(minute|minutes|hour|hours|day|days)", expression)
    if not match:
        raise CronError(
            f"rate: '{expression}' is not '<number> <unit>' (units: minute(s), hour(s), day(s))"
        )
    value, unit = _number(match.group(1)) or 0, match.group(2)
    longest = RATE_LIMITS[unit.rstrip("s")]
    if not 1 <= value <= longest:
        raise CronError(
            f"rate: '{match.group(1)} {unit}' is out of range "
            f"(allowed 1-{longest} {unit.rstrip('s')}s, at most a year)"
        )
    if (value == 1) == unit.endswith("s"):
        wanted = unit.rstrip("s") if value == 1 else unit.rstrip("s") + "s"
        raise CronError(f"rate: write '{value} {wanted}' (EventBridge wants singular units for 1)")
    return RateExpression(value, unit)


def parse_schedule(text: str) -> CronExpression | RateExpression:
    """Parse a full EventBridge schedule expression, ``cron(...)`` or ``rate(...)``."""
    stripped = text.strip()
    if stripped.startswith("cron("):
        return parse_cron(stripped)
    if stripped.startswith("rate("):
        return parse_rate(stripped)
    raise CronError(f"schedule expression '{stripped}' must be cron(...) or rate(...)")
