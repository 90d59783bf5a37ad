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
from dpc.triggers.periods import Period, PeriodSpec, period_containing


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
