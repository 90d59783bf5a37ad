"""How a pipeline's progress on a period is told, and when its next deadline falls.

Pure, and shared by `dpc status` (dpc.observe.status) and the central late-alert sweep
(dpc.lambdas.late_alerts), so the line a team reads in a late alert is word for word the one
`dpc status` prints for the same pipeline and period: two wordings of one incident would
have to be reconciled by whoever reads both.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from dpc.triggers.deadlines import MAX_AFTER_END, Expect
from dpc.triggers.model import ParentRef
from dpc.triggers.periods import Period, PeriodSpec, Unit, period_containing, periods_between


def progress_text(
    status: str | None,
    started_at: datetime | None,
    stopped_at: datetime | None,
    waiting_on: Sequence[tuple[ParentRef, str]] = (),
    failed_step: str | None = None,
    error: str | None = None,
) -> str:
    """ "no run yet" / "running since …" / "FAILED at … in step …: error" / "waiting on …"
    for the newest run of a period (``status`` None: no run); a pipeline waiting on parents
    and not running is told by what it waits on, the thing its owners can act on."""
    if waiting_on and status != "RUNNING":
        return "waiting on " + ", ".join(f"{p} ({s})" for p, s in waiting_on)
    if status is None or started_at is None:
        return "no run yet"
    if status == "RUNNING":
        return f"running since {started_at:%Y-%m-%d %H:%M}"
    text = f"{status} at {(stopped_at or started_at):%Y-%m-%d %H:%M}"
    if status == "SUCCEEDED":
        return text
    step = f" in step {failed_step}" if failed_step else ""
    return f"{text}{step}: {error}" if error else text + step


def late_text(due: datetime, progress: str, inferred: bool = False) -> str:
    """`dpc status`'s detail of a late pipeline: when it was due, then its progress."""
    return f"due {due:%Y-%m-%d %H:%M}{' (inferred)' if inferred else ''}: {progress}"


def first_due_after(expect: Expect, spec: PeriodSpec, moment: datetime) -> tuple[Period, datetime]:
    """The earliest period whose deadline is after ``moment``, with that deadline: where a
    newly registered pipeline's watch starts (no alert for a period already past due when it
    was deployed)."""
    period = period_containing(spec.unit, moment + spec.offset - MAX_AFTER_END - timedelta(days=1))
    while (due := expect.due(period, spec)) <= moment:
        period = period.next()
    return period, due


def periods_within(unit: Unit, period: Period) -> tuple[Period, ...]:
    """A pipeline's own periods (of ``unit``) that make up ``period``: the hours of a day for
    an hourly pipeline, the one week containing a day for a weekly one."""
    first = period_containing(unit, period.start)
    if first.end >= period.end or first.unit == period.unit:
        return (first,)
    last = period_containing(unit, period.end - (first.end - first.start) / 2)
    return tuple(periods_between(first, last))


def typical_duration(successful_run_times: Sequence[timedelta]) -> timedelta | None:
    """What a child adds to its latest parent's deadline to infer its own: the median of its
    successful run times, robust to one stuck rerun. None before its first success: a
    deadline guessed from no history would call every first run late."""
    ordered = sorted(successful_run_times)
    return ordered[len(ordered) // 2] if ordered else None
