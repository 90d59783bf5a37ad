"""Periods (DESIGN §5b): the UTC data interval a run processes, and how periods nest.

A period is written the way data engineers name partitions: ``2026-11-27T05`` (hour),
``2026-11-27`` (day), ``2026-W48`` (ISO week, Monday first), ``2026-11`` (month). The text
names the unit, so a period read from a run's input needs nothing else to be understood.

Pure: no I/O, no clock read here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal, cast

Unit = Literal["hour", "day", "week", "month"]
UNITS: tuple[Unit, ...] = ("hour", "day", "week", "month")
"""Finest first."""

MAX_WITHIN = timedelta(days=365)
"""Parent runs older than a year are history, not a trigger; a wider window is a typo."""
MAX_PERIOD_SPAN = timedelta(days=366)
"""The longest period offset and keep: a year and a day, past any sensible data interval.
(Both checked by validate, and by the dependency API on the JSON form, dpc.triggers.codec.)"""
DEFAULT_KEEP = timedelta(days=35)

_FORMATS = {
    "hour": "YYYY-MM-DDTHH",
    "day": "YYYY-MM-DD",
    "week": "YYYY-Www",
    "month": "YYYY-MM",
}
_PATTERNS: dict[Unit, re.Pattern[str]] = {
    "hour": re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2})"),
    "day": re.compile(r"(\d{4})-(\d{2})-(\d{2})"),
    "week": re.compile(r"(\d{4})-W(\d{2})"),
    "month": re.compile(r"(\d{4})-(\d{2})"),
}


class PeriodError(ValueError):
    """A period text that names no period (of the expected unit); the message says why."""


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return _month_start(index // 12, index % 12 + 1)


def _floor(unit: Unit, moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


@dataclass(frozen=True, order=True)
class Period:
    """One interval of ``unit`` starting at ``start`` (always a boundary of that unit)."""

    start: datetime
    unit: Unit

    @property
    def end(self) -> datetime:
        """Exclusive."""
        return self.next().start

    def next(self) -> Period:
        if self.unit == "month":
            return Period(_add_months(self.start, 1), "month")
        step = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
        return Period(self.start + step[self.unit], self.unit)

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def __str__(self) -> str:
        if self.unit == "hour":
            return self.start.strftime("%Y-%m-%dT%H")
        if self.unit == "day":
            return self.start.strftime("%Y-%m-%d")
        if self.unit == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year:04d}-W{week:02d}"
        return self.start.strftime("%Y-%m")


def period_containing(unit: Unit, moment: datetime) -> Period:
    return Period(_floor(unit, moment), unit)


def unit_of(text: str) -> Unit | None:
    """The unit a period text is written in, or None when it has none of the four shapes."""
    for unit in UNITS:
        if _PATTERNS[unit].fullmatch(text):
            return unit
    return None


def _an(unit: Unit) -> str:
    return "an" if unit == "hour" else "a"


def parse_period(text: str, unit: Unit | None = None) -> Period:
    """Read ``2026-11-27`` and friends; with ``unit``, the text must be of that unit."""
    found = unit_of(text)
    if found is None:
        shapes = ", ".join(f"{_FORMATS[u]} ({u})" for u in UNITS)
        raise PeriodError(f"'{text}' is not a period: expected {shapes}")
    if unit is not None and found != unit:
        raise PeriodError(
            f"'{text}' is {_an(found)} {found}, expected {_an(unit)} {unit} period "
            f"({_FORMATS[unit]}, "
            f"e.g. {period_containing(unit, datetime(2026, 11, 27, 5, tzinfo=UTC))})"
        )
    match = _PATTERNS[found].fullmatch(text)
    assert match is not None
    numbers = [int(group) for group in match.groups()]
    if found == "week":
        year, week = numbers
        weeks = date(year, 12, 28).isocalendar()[1]  # 28 December is always in the last week
        if not 1 <= week <= weeks:
            raise PeriodError(f"'{text}': ISO year {year} has weeks W01 to W{weeks:02d}")
        monday = date.fromisocalendar(year, week, 1)
        return Period(datetime(monday.year, monday.month, monday.day, tzinfo=UTC), "week")
    year, month = numbers[0], numbers[1]
    if not 1 <= month <= 12:
        raise PeriodError(f"'{text}': month {month:02d} is not 01 to 12")
    if found == "month":
        return Period(_month_start(year, month), "month")
    try:
        day = datetime(year, month, numbers[2], tzinfo=UTC)
    except ValueError:
        raise PeriodError(f"'{text}': {year}-{month:02d} has no day {numbers[2]:02d}") from None
    if found == "day":
        return Period(day, "day")
    if not 0 <= numbers[3] <= 23:
        raise PeriodError(f"'{text}': hour {numbers[3]:02d} is not 00 to 23")
    return Period(day.replace(hour=numbers[3]), "hour")


def coarser(unit: Unit, than: Unit) -> bool:
    return UNITS.index(unit) > UNITS.index(than)


def nests(inner: Unit, outer: Unit) -> bool:
    """Whether every ``inner`` period lies inside one ``outer`` period (weeks do not nest in
    months: a week can straddle two)."""
    return not coarser(inner, outer) and not (inner == "week" and outer == "month")


def child_period(parent: Period, unit: Unit) -> Period:
    """P1: the child period of ``unit`` that contains the start of the parent's period."""
    return period_containing(unit, parent.start)


def periods_inside(outer: Period, unit: Unit) -> Iterator[Period]:
    """Every period of ``unit`` that starts inside ``outer`` (all 24 hours of a day)."""
    period = period_containing(unit, outer.start)
    if period.start < outer.start:
        period = period.next()
    while period.start < outer.end:
        yield period
        period = period.next()


def periods_between(first: Period, last: Period) -> list[Period]:
    """``first`` to ``last`` inclusive, oldest first (a backfill's periods)."""
    if first.unit != last.unit:
        raise PeriodError(f"'{first}' and '{last}' are periods of different units")
    if last < first:
        raise PeriodError(f"'{first}' is after '{last}': give the older period first")
    periods = [first]
    while periods[-1] != last:
        periods.append(periods[-1].next())
    return periods


@dataclass(frozen=True)
class PeriodSpec:
    """A pipeline's ``period: {unit, offset}``: which interval a run started at a moment
    processes (``offset: -1d``: the 03:00 run processes yesterday)."""

    unit: Unit = "day"
    offset: timedelta = timedelta(0)

    def at(self, moment: datetime) -> Period:
        return period_containing(self.unit, moment + self.offset)

    def to_json(self) -> dict[str, object]:
        return {"unit": self.unit, "offsetSeconds": int(self.offset.total_seconds())}

    @staticmethod
    def from_json(data: object) -> PeriodSpec:
        if not isinstance(data, dict) or data.get("unit") not in UNITS:
            raise PeriodError(f"period: expected {{unit: {'|'.join(UNITS)}, offsetSeconds}}")
        offset = data.get("offsetSeconds", 0)
        if not isinstance(offset, int) or isinstance(offset, bool):
            raise PeriodError("period.offsetSeconds: expected an integer")
        span = int(MAX_PERIOD_SPAN.total_seconds())
        if abs(offset) > span:
            raise PeriodError(
                f"period.offsetSeconds: at most {span} ({MAX_PERIOD_SPAN.days} days) either way"
            )
        return PeriodSpec(cast(Unit, data["unit"]), timedelta(seconds=offset))
