"""One period of the organization at a glance: for each registered pipeline, whether its
data for that period is done, running, failed, or waiting — and on which parent.

Pure over what the central account records (registrations and the run log), so `dpc
status` and a monitoring job read the same answer. A pipeline of a finer unit than the
period asked for (hourly under a day) is done when every one of its periods inside it is;
one of a coarser unit (weekly under a day) is judged by the period that contains it. The
newest run of a period decides, so a successful rerun mends a failure.

A pipeline not done once its data is due is late. Its deadline is its own ``expect.by``
or, for a child without one, inferred: when its latest parent is due plus its own typical
run time (the median of its successful runs read; none before its first success), so a
blocked chain shows as late without every pipeline configuring a deadline. The central
late-alert sweep (dpc.lambdas.late_alerts) infers the same deadline to alert on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from dpc.observe.runlog import Run
from dpc.spec.model import Pipeline
from dpc.triggers.lateness import late_text, periods_within, progress_text, typical_duration
from dpc.triggers.model import Condition, ParentRef
from dpc.triggers.periods import Period
from dpc.triggers.timefmt import format_time

State = Literal["done", "running", "failed", "late", "waiting"]
FAILED = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
_ORDER: Mapping[State, int] = {"failed": 0, "late": 1, "running": 2, "waiting": 3, "done": 4}


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
    due: datetime | None = None
    """When the period's data is due (None: no deadline, own or inferred)."""
    due_inferred: bool = False

    @property
    def detail(self) -> str:
        progress = self._progress()
        if self.state != "late" or self.due is None:
            return progress
        return late_text(self.due, progress, self.due_inferred)

    def told_at(self, now: datetime) -> str:
        """What the late alert says of it (dpc.lambdas.late_alerts): once past its deadline
        and not done, the deadline then its progress (a failure too); before, the detail."""
        if self.state != "done" and self.due is not None and now > self.due:
            return late_text(self.due, self._progress(), self.due_inferred)
        return self.detail

    def _progress(self) -> str:
        run = self.latest
        if run is None:
            return progress_text(None, None, None, self.waiting_on)
        return progress_text(
            run.status,
            run.started_at,
            run.stopped_at,
            self.waiting_on,
            run.failed_step,
            run.error,
        )

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
            "due": format_time(self.due) if self.due else None,
            "due_inferred": self.due_inferred,
        }


def own_periods(pipeline: Pipeline, period: Period) -> tuple[Period, ...]:
    """The pipeline's periods that make up ``period`` (see the module docstring)."""
    return periods_within(pipeline.period.unit, period)


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
    pipelines: Sequence[Pipeline], runs: Iterable[Run], period: Period, now: datetime
) -> list[PipelineStatus]:
    """Every pipeline's state for ``period`` at ``now``: failed, late, running, waiting,
    then done, newest run first within each."""
    by_period: dict[tuple[ParentRef, str], list[Run]] = {}
    successes: dict[ParentRef, list[timedelta]] = {}
    for run in sorted(runs, key=lambda r: r.started_at, reverse=True):
        if run.period is not None:
            by_period.setdefault((run.pipeline, run.period), []).append(run)
        if run.status == "SUCCEEDED" and run.stopped_at is not None:
            successes.setdefault(run.pipeline, []).append(run.stopped_at - run.started_at)
    registered = {p.ref: p for p in pipelines}
    states: dict[ParentRef, PipelineStatus] = {}
    for ref, pipeline in registered.items():
        periods = own_periods(pipeline, period)
        per_period = [by_period.get((ref, str(p)), []) for p in periods]
        newest = [runs[0] for runs in per_period if runs]
        states[ref] = PipelineStatus(
            pipeline=ref,
            state=_combined(_state_of(runs) for runs in per_period),
            periods=tuple(str(p) for p in periods),
            latest=max(newest, key=lambda r: r.started_at) if newest else None,
        )
    deadlines = _Deadlines(registered, period, successes)
    for ref, pipeline in registered.items():
        found = states[ref]
        if found.state == "done":
            continue
        waiting_on = tuple(
            (parent, states[parent].state if parent in states else "waiting")
            for parent in _parents(pipeline.trigger.executions)
            if parent not in states or states[parent].state != "done"
        )
        due, inferred = deadlines.of(ref)
        late = due is not None and now > due and found.state != "failed"
        states[ref] = PipelineStatus(
            found.pipeline,
            "late" if late else found.state,
            found.periods,
            found.latest,
            waiting_on,
            due,
            inferred,
        )
    return sorted(states.values(), key=_newest_first)


class _Deadlines:
    """Each pipeline's deadline for the period asked for: its own ``expect``, else its
    latest parent's plus its typical run time (memoized; the registry refuses cycles, a
    hand-edited one just gets no inferred deadline)."""

    def __init__(
        self,
        pipelines: Mapping[ParentRef, Pipeline],
        period: Period,
        successes: Mapping[ParentRef, Sequence[timedelta]],
    ) -> None:
        self.pipelines = pipelines
        self.period = period
        self.successes = successes
        self.known: dict[ParentRef, tuple[datetime | None, bool]] = {}

    def of(self, ref: ParentRef) -> tuple[datetime | None, bool]:
        if ref in self.known:
            return self.known[ref]
        self.known[ref] = (None, False)  # until computed: a cycle ends here
        pipeline = self.pipelines.get(ref)
        if pipeline is None:
            return self.known[ref]
        if pipeline.expect is not None:
            periods = own_periods(pipeline, self.period)
            self.known[ref] = (max(pipeline.expect.due(p, pipeline.period) for p in periods), False)
            return self.known[ref]
        parents = [self.of(parent)[0] for parent in _parents(pipeline.trigger.executions)]
        known = [due for due in parents if due is not None]
        typical = typical_duration(self.successes.get(ref, ()))
        if known and typical is not None:
            self.known[ref] = (max(known) + typical, True)
        return self.known[ref]


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
