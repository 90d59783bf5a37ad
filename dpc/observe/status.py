"""One period of the organization at a glance: for each registered pipeline, whether its
data for that period is done, running, failed, or waiting — and on which parent.

Pure over what the central account records (registrations and the run log), so `dpc
status` and a monitoring job read the same answer. A pipeline of a finer unit than the
period asked for (hourly under a day) is done when every one of its periods inside it is;
one of a coarser unit (weekly under a day) is judged by the period that contains it. The
newest run of a period decides, so a successful rerun mends a failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from dpc.observe.runlog import Run
from dpc.spec.model import Pipeline
from dpc.triggers.model import Condition, ParentRef
from dpc.triggers.periods import Period, period_containing, periods_between
from dpc.triggers.timefmt import format_time

State = Literal["done", "running", "failed", "waiting"]
FAILED = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
_ORDER: Mapping[State, int] = {"failed": 0, "running": 1, "waiting": 2, "done": 3}


@dataclass(frozen=True)
class PipelineStatus:
    pipeline: ParentRef
    state: State
    periods: tuple[str, ...]
    """The pipeline's own periods that make up the period asked for."""
    latest: Run | None
    """The newest run among those periods."""
    waiting_on: tuple[tuple[ParentRef, State], ...] = ()
    """Parents not done for the period, with their state (for a pipeline not done)."""

    @property
    def detail(self) -> str:
        if self.state == "waiting" and self.waiting_on:
            return "waiting on " + ", ".join(f"{p} ({s})" for p, s in self.waiting_on)
        if self.latest is None:
            return "no run yet"
        run = self.latest
        if run.status == "RUNNING":
            return f"running since {run.started_at:%Y-%m-%d %H:%M}"
        stopped = run.stopped_at or run.started_at
        return f"{run.status} at {stopped:%Y-%m-%d %H:%M}"

    def to_json(self) -> dict[str, object]:
        return {
            "pipeline": self.pipeline.name,
            "account": self.pipeline.account,
            "state": self.state,
            "periods": list(self.periods),
            "detail": self.detail,
            "execution": self.latest.execution if self.latest else None,
            "started_at": format_time(self.latest.started_at) if self.latest else None,
            "waiting_on": [
                {"pipeline": p.name, "account": p.account, "state": s} for p, s in self.waiting_on
            ],
        }


def own_periods(pipeline: Pipeline, period: Period) -> tuple[Period, ...]:
    """The pipeline's periods that make up ``period`` (see the module docstring)."""
    unit = pipeline.period.unit
    first = period_containing(unit, period.start)
    if first.end >= period.end or first.unit == period.unit:
        return (first,)
    last = period_containing(unit, period.end - (first.end - first.start) / 2)
    return tuple(periods_between(first, last))


def _state_of(runs_newest_first: Sequence[Run]) -> State:
    if not runs_newest_first:
        return "waiting"
    status = runs_newest_first[0].status
    if status == "SUCCEEDED":
        return "done"
    return "failed" if status in FAILED else "running"


def _combined(states: Iterable[State]) -> State:
    """Failed if any is, then running, then waiting; done only if all are."""
    return min(states, key=lambda s: _ORDER[s], default="waiting")


def _parents(condition: Condition | None) -> tuple[ParentRef, ...]:
    return condition.parents if condition is not None else ()


def organization_status(
    pipelines: Sequence[Pipeline], runs: Iterable[Run], period: Period
) -> list[PipelineStatus]:
    """Every pipeline's state for ``period``: failed, running, waiting, then done, newest
    run first within each."""
    by_period: dict[tuple[ParentRef, str], list[Run]] = {}
    for run in sorted(runs, key=lambda r: r.started_at, reverse=True):
        if run.period is not None:
            by_period.setdefault((run.pipeline, run.period), []).append(run)
    states: dict[ParentRef, PipelineStatus] = {}
    for pipeline in pipelines:
        ref = pipeline.ref
        periods = own_periods(pipeline, period)
        per_period = [by_period.get((ref, str(p)), []) for p in periods]
        newest = [runs[0] for runs in per_period if runs]
        states[ref] = PipelineStatus(
            pipeline=ref,
            state=_combined(_state_of(runs) for runs in per_period),
            periods=tuple(str(p) for p in periods),
            latest=max(newest, key=lambda r: r.started_at) if newest else None,
        )
    for pipeline in pipelines:
        found = states[pipeline.ref]
        if found.state == "done":
            continue
        waiting_on = tuple(
            (parent, states[parent].state if parent in states else "waiting")
            for parent in _parents(pipeline.trigger.executions)
            if parent not in states or states[parent].state != "done"
        )
        states[pipeline.ref] = PipelineStatus(
            found.pipeline, found.state, found.periods, found.latest, waiting_on
        )
    return sorted(states.values(), key=_newest_first)


def _newest_first(status: PipelineStatus) -> tuple[int, float, str]:
    started = status.latest.started_at.timestamp() if status.latest else 0.0
    return (_ORDER[status.state], -started, str(status.pipeline))


def all_done(statuses: Sequence[PipelineStatus]) -> bool:
    return bool(statuses) and all(s.state == "done" for s in statuses)


def earliest_run_start(period: Period) -> datetime:
    """How far back the run log is read: a run processing ``period`` starts at the earliest
    a week before it (a schedule offset ahead of the data); later ones, reruns included, are
    all read."""
    return period.start - timedelta(days=7)
