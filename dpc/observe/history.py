"""`dpc simulate ORG_DIR --history 30d`: what the organization folder's trigger rules would
have done with the runs that really happened, against what did happen.

Every recorded run becomes its status events (RUNNING at its start, its end status at its
stop) and the events go, in time order, through the same engine as the trigger manager with
the folder's conditions. A trigger it fires is matched to the real run of that child for
that period; a real triggered run no trigger matches was one the change would not start;
a trigger and a real run with the same parent runs but different periods started for
another period. The replay feeds every recorded run, so what a removed run would in turn
have started further down is not followed: the difference names the first pipeline that
changes, which is what a reviewer reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, cast

from dpc.observe.runlog import Run
from dpc.triggers.events import RunEvent
from dpc.triggers.model import Condition, ParentRef, Status
from dpc.triggers.periods import parse_period
from dpc.triggers.replay import replay_in_memory

Kind = Literal["would start", "would not start", "another period"]


@dataclass(frozen=True)
class Difference:
    kind: Kind
    pipeline: ParentRef
    period: str | None
    """The period the folder's rules start it for (for ``would not start``: the real one)."""
    causes: tuple[str, ...]
    """The parent runs behind it, as ``pipeline@account execution``."""
    actual_period: str | None = None
    """``another period``: the period the real run processed."""
    execution: str | None = None
    """The real run, when there is one."""

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "pipeline": self.pipeline.name,
            "account": self.pipeline.account,
            "period": self.period,
            "actual_period": self.actual_period,
            "execution": self.execution,
            "causes": list(self.causes),
        }

    def __str__(self) -> str:
        after = f" after {', '.join(self.causes)}" if self.causes else ""
        if self.kind == "another period":
            return (
                f"{self.pipeline} would have run for {self.period} instead of "
                f"{self.actual_period} ({self.execution}){after}"
            )
        if self.kind == "would start":
            return f"{self.pipeline} would have run for {self.period}{after}"
        return f"{self.pipeline} would not have run for {self.period} ({self.execution}){after}"


def run_events(runs: Iterable[Run]) -> list[RunEvent]:
    """The status events the recorded runs sent, oldest first."""
    events: list[RunEvent] = []
    for run in runs:
        period = parse_period(run.period) if run.period else None
        events.append(RunEvent(run.started_at, run.pipeline, "RUNNING", run.execution, period))
        if run.stopped_at is not None and run.status != "RUNNING":
            status = cast(Status, run.status)
            events.append(RunEvent(run.stopped_at, run.pipeline, status, run.execution, period))
    return sorted(events, key=lambda e: (e.time, e.execution, e.status != "RUNNING"))


def _causes(run: Run) -> frozenset[str]:
    return frozenset(
        f"{c.get('pipeline')}@{c.get('account')} {c['execution']}"
        for c in run.causes
        if "execution" in c
    )


def differences(conditions: Mapping[ParentRef, Condition], runs: Sequence[Run]) -> list[Difference]:
    """What the rules in ``conditions`` would have started differently, oldest first."""
    triggered: list[tuple[ParentRef, str | None, frozenset[str]]] = []
    for _, outcome in replay_in_memory(conditions, run_events(runs)):
        for trigger in outcome.published:
            period = str(trigger.period) if trigger.period else None
            triggered.append(
                (
                    trigger.child,
                    period,
                    frozenset(f"{c.pipeline} {c.execution}" for c in trigger.causes),
                )
            )
    real = [run for run in runs if run.pipeline in conditions and run.causes and not run.rerun_of]
    unmatched = list(real)
    found: list[Difference] = []
    for child, period, causes in triggered:
        same = next((r for r in unmatched if r.pipeline == child and r.period == period), None)
        if same is not None:
            unmatched.remove(same)
            continue
        moved = next((r for r in unmatched if r.pipeline == child and _causes(r) & causes), None)
        if moved is not None:
            unmatched.remove(moved)
            found.append(
                Difference(
                    "another period",
                    child,
                    period,
                    tuple(sorted(causes)),
                    moved.period,
                    moved.execution,
                )
            )
            continue
        found.append(Difference("would start", child, period, tuple(sorted(causes))))
    for run in unmatched:
        found.append(
            Difference(
                "would not start",
                run.pipeline,
                run.period,
                tuple(sorted(_causes(run))),
                execution=run.execution,
            )
        )
    return found


def summary(found: Sequence[Difference], since: str) -> str:
    if not found:
        return f"no difference: the folder's rules start exactly the runs recorded since {since}"
    kinds: tuple[Kind, ...] = ("would start", "would not start", "another period")
    counts = ", ".join(f"{n} {kind}" for kind in kinds if (n := sum(d.kind == kind for d in found)))
    return f"{counts} (runs since {since})"
