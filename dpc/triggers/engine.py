"""DESIGN §5 as code: which children a run status change starts, exactly once, and why.

Pure: no I/O, no clocks read here. Storage is a small protocol (:class:`TriggerStore`) with two
implementations, in memory (dpc.triggers.memory, used by ``dpc simulate``) and on DynamoDB
(dpc.lambdas.store_dynamodb, used by the trigger-manager Lambda), so simulate and production
run the same rules.

State per child is bounded: ``last[r]`` per parent (§5), the keys of the few newest events of
each parent already applied (to skip a redelivered event after a crash), the clock of the
last evaluation and the newest reset tick applied (rule 8), and the outbox of recorded but
unpublished triggers.

Rule 8, as read here: a reset closes a period. An event whose time is strictly before the
newest reset tick applied to a child is ignored for that child (recorded, never ``last[r]``):
a late delivery of yesterday's success must not pair with today's runs. An event exactly at
the tick belongs to the new period. A child that remembers no tick (no state yet: its first
evaluation, or after a re-registration wiped it) is in the period that began at the newest
tick at or before the clock, so the same applies to its very first event.

How one event is processed (:meth:`TriggerEngine.process`):

1. ``store.accept`` decides rules 1-2 for the execution: new, duplicate, terminal-then-RUNNING
   (stale), or accepted before but not finished (a redelivery after a crash: resume).
2. For each child: load its state, apply the event (:func:`apply_event`), and commit with a
   compare-and-set on the state's version, together with the evaluation record and, if the
   condition holds, the trigger record keyed by the trigger id (a conditional write: a trigger
   id is recorded once). A lost race reloads and re-applies.
3. Publish the new triggers and any unpublished ones left in the child's outbox by a crashed
   invocation (once their lease has expired), then clear them from the outbox.
4. ``store.finish`` marks the event done, so a later duplicate costs nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import lru_cache
from typing import Any, Literal, Protocol, cast

from dpc.triggers.cron import CronExpression, parse_cron
from dpc.triggers.model import STATUSES, Condition, Item, ParentRef, Status

PUBLISH_BATCH = 10
"""Triggers per PutEvents call (the API's limit)."""
APPLIED_KEYS_PER_PARENT = 8
"""How many recently applied events per parent a child remembers (crash-resume dedupe)."""


def format_time(moment: datetime) -> str:
    """ISO-8601 UTC with a ``Z``, always with milliseconds: the stores use these strings as
    sort keys, and only a fixed-width form sorts as time does (``…00Z`` > ``…00.500Z``).
    ``parse_time`` still reads the older form without milliseconds."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_event_time(moment: datetime) -> str:
    """The form of Step Functions' own event times (``…T03:10:00Z``), milliseconds only when
    there are some. Event JSON keeps it (trigger details, ``simulate``'s output, and so
    trigger ids, rule 7); it is never a sort key, which ``format_time`` is for."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


def parse_time(text: str) -> datetime:
    """Parse an ISO-8601 time; a time without an offset is UTC. Precision: milliseconds."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _readable(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def format_duration(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class RunEvent:
    """A status change of one execution of one pipeline (§5 "event")."""

    time: datetime
    pipeline: ParentRef
    status: Status
    execution: str

    @property
    def key(self) -> str:
        """Identity for rule 1: the same execution reporting the same status again."""
        return f"{self.execution}#{self.status}"

    def to_json(self) -> dict[str, str]:
        return {
            "pipeline": self.pipeline.name,
            "account": self.pipeline.account,
            "status": self.status,
            "execution": self.execution,
            "time": format_event_time(self.time),
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> RunEvent:
        status = "SUCCEEDED" if data["status"] == "SUCCESS" else data["status"]
        if status not in STATUSES:
            raise ValueError(f"status '{data['status']}' is not one of {', '.join(STATUSES)}")
        return RunEvent(
            time=parse_time(str(data["time"])),
            pipeline=ParentRef(str(data["pipeline"]), str(data["account"])),
            status=cast(Status, status),
            execution=str(data["execution"]),
        )


@dataclass(frozen=True)
class Trigger:
    child: ParentRef
    trigger_id: str
    causes: tuple[RunEvent, ...]

    def detail(self) -> dict[str, Any]:
        """The ``Pipeline Trigger`` event detail (DESIGN §6)."""
        return {
            "pipeline": self.child.name,
            "account": self.child.account,
            "trigger_id": self.trigger_id,
            "causes": [cause.to_json() for cause in self.causes],
        }

    @staticmethod
    def from_detail(data: Mapping[str, Any]) -> Trigger:
        return Trigger(
            child=ParentRef(str(data["pipeline"]), str(data["account"])),
            trigger_id=str(data["trigger_id"]),
            causes=tuple(RunEvent.from_json(c) for c in data["causes"]),
        )


def trigger_id(child: ParentRef, causes: Sequence[RunEvent]) -> str:
    """Rule 7: a function of the child and its causes only (order of causes irrelevant)."""
    canonical = json.dumps(
        {
            "child": str(child),
            "causes": sorted(json.dumps(c.to_json(), sort_keys=True) for c in causes),
        },
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class PendingTrigger:
    """An outbox entry: recorded (exactly once) but not yet known to be published."""

    trigger: Trigger
    recorded_at: datetime


@dataclass(frozen=True)
class ChildState:
    version: int = 0
    """0 means "never stored"; every commit increments it (optimistic concurrency)."""
    last: Mapping[ParentRef, RunEvent] = field(default_factory=dict)
    applied: Mapping[ParentRef, tuple[str, ...]] = field(default_factory=dict)
    clock: datetime | None = None
    outbox: Mapping[str, PendingTrigger] = field(default_factory=dict)
    reset_at: datetime | None = None
    """The newest reset tick applied (rule 8): a run older than it belongs to a closed period."""


Block = Literal["allOf", "anyOf"]
Result = Literal["TRIGGERED", "NOT_MET", "IGNORED"]


@dataclass(frozen=True)
class ItemVerdict:
    block: Block
    parent: ParentRef
    statuses: tuple[Status, ...]
    met: bool
    reason: str


@dataclass(frozen=True)
class Evaluation:
    """Rule 9: one evaluation of one child for one event, with the reason for every item.

    JSON (``to_json``, stored in the evaluation record's ``record`` attribute)::

        {"child": {"pipeline", "account"}, "event": <RunEvent JSON>, "result": "TRIGGERED" |
         "NOT_MET" | "IGNORED", "evaluated_at": ISO, "trigger_id": str | null,
         "notes": [str], "items": [{"block": "allOf" | "anyOf", "pipeline", "account",
         "statuses": [..], "met": bool, "reason": str}]}
    """

    child: ParentRef
    event: RunEvent
    result: Result
    evaluated_at: datetime
    items: tuple[ItemVerdict, ...] = ()
    notes: tuple[str, ...] = ()
    trigger_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "child": {"pipeline": self.child.name, "account": self.child.account},
            "event": self.event.to_json(),
            "result": self.result,
            "evaluated_at": format_time(self.evaluated_at),
            "trigger_id": self.trigger_id,
            "notes": list(self.notes),
            "items": [
                {
                    "block": v.block,
                    "pipeline": v.parent.name,
                    "account": v.parent.account,
                    "statuses": list(v.statuses),
                    "met": v.met,
                    "reason": v.reason,
                }
                for v in self.items
            ],
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Evaluation:
        return Evaluation(
            child=ParentRef(data["child"]["pipeline"], data["child"]["account"]),
            event=RunEvent.from_json(data["event"]),
            result=data["result"],
            evaluated_at=parse_time(data["evaluated_at"]),
            trigger_id=data.get("trigger_id"),
            notes=tuple(data.get("notes", ())),
            items=tuple(
                ItemVerdict(
                    block=i["block"],
                    parent=ParentRef(i["pipeline"], i["account"]),
                    statuses=tuple(i["statuses"]),
                    met=bool(i["met"]),
                    reason=i["reason"],
                )
                for i in data.get("items", ())
            ),
        )


@dataclass(frozen=True)
class Step:
    """What applying one event to one child produces: the state to commit and its records."""

    state: ChildState
    evaluation: Evaluation
    trigger: Trigger | None


@lru_cache(maxsize=256)
def _cron(expression: str) -> CronExpression:
    return parse_cron(expression)


def _verdict(
    item: Item,
    block: Block,
    last: Mapping[ParentRef, RunEvent],
    event_time: datetime,
    within: timedelta | None,
) -> ItemVerdict:
    statuses = tuple(s for s in STATUSES if s in item.statuses)
    observed = last.get(item.parent)

    def verdict(met: bool, reason: str) -> ItemVerdict:
        return ItemVerdict(block, item.parent, statuses, met, reason)

    if observed is None:
        return verdict(False, f"waiting for {item.parent}: no run since the last trigger or reset")
    seen = f"{observed.status} at {_readable(observed.time)} ({observed.execution})"
    if observed.status not in item.statuses:
        return verdict(
            False, f"waiting for {item.parent}: last run {seen}, wants {'|'.join(statuses)}"
        )
    if within is not None and event_time - observed.time > within:
        return verdict(
            False, f"{item.parent} {seen} is older than within={format_duration(within)}"
        )
    return verdict(True, f"{item.parent} {seen}")


def _latest_tick(cron: CronExpression, after: datetime, until: datetime) -> datetime | None:
    """The newest tick in (after, until]: several may have passed since the child's last event,
    and finding it must not cost one step per tick (a minutely cron over a long quiet spell)."""
    tick = cron.latest_at_or_before(until)
    return tick if tick is not None and tick > after else None


def apply_event(
    state: ChildState, child: ParentRef, condition: Condition, event: RunEvent, now: datetime
) -> Step | None:
    """Rules 2-9 for one child. None when this child already applied the event (a resume)."""
    notes: list[str] = []
    last = dict(state.last)
    reset_at = state.reset_at
    if condition.reset_cron is not None:
        cron = _cron(condition.reset_cron)
        tick = None if state.clock is None else _latest_tick(cron, state.clock, now)
        if tick is not None:
            if last:
                notes.append(
                    f"reset at {_readable(tick)} cleared partial match "
                    f"({', '.join(str(r) for r in sorted(last))})"
                )
            last = {}
            reset_at = tick
        if reset_at is None:
            # No state yet (first evaluation, or wiped by a re-registration): the child's
            # period still began at the last tick the clock passed, not at its first event.
            reset_at = cron.latest_at_or_before(now)
    clock = now if state.clock is None else max(state.clock, now)

    applied_keys = state.applied.get(event.pipeline, ())
    if event.key in applied_keys:
        return None
    applied = {
        **state.applied,
        event.pipeline: (*applied_keys, event.key)[-APPLIED_KEYS_PER_PARENT:],
    }

    def ignored(reason: str) -> Step:
        kept = replace(state, last=last, applied=applied, clock=clock, reset_at=reset_at)
        evaluation = Evaluation(child, event, "IGNORED", now, notes=(*notes, reason))
        return Step(kept, evaluation, None)

    # A late delivery (EventBridge retries for up to 24 hours) of a run from before the last
    # reset would otherwise become last[r] and pair with runs of the new period.
    if reset_at is not None and event.time < reset_at:
        return ignored(
            f"ignored: {event.pipeline} run at {_readable(event.time)} ({event.execution}) "
            f"is older than the reset at {_readable(reset_at)}"
        )
    previous = last.get(event.pipeline)
    if previous is not None and event.time < previous.time:
        return ignored(
            f"ignored: older than the latest {event.pipeline} run seen "
            f"({previous.status} at {_readable(previous.time)}, {previous.execution})"
        )
    last[event.pipeline] = event

    verdicts = [_verdict(i, "allOf", last, event.time, condition.within) for i in condition.all_of]
    verdicts += [_verdict(i, "anyOf", last, event.time, condition.within) for i in condition.any_of]
    all_holds = all(v.met for v in verdicts if v.block == "allOf")
    any_holds = any(v.met for v in verdicts if v.block == "anyOf")
    if condition.all_of and condition.any_of:
        holds = (
            (all_holds and any_holds) if condition.operator == "AND" else (all_holds or any_holds)
        )
    else:
        holds = all_holds if condition.all_of else any_holds

    if not holds:
        new_state = replace(state, last=last, applied=applied, clock=clock, reset_at=reset_at)
        evaluation = Evaluation(child, event, "NOT_MET", now, tuple(verdicts), tuple(notes))
        return Step(new_state, evaluation, None)

    cause_parents = dict.fromkeys(v.parent for v in verdicts if v.met)
    causes = tuple(last[parent] for parent in cause_parents)
    trigger = Trigger(child, trigger_id(child, causes), causes)
    new_state = replace(state, last={}, applied=applied, clock=clock, reset_at=reset_at)
    evaluation = Evaluation(
        child, event, "TRIGGERED", now, tuple(verdicts), tuple(notes), trigger.trigger_id
    )
    return Step(new_state, evaluation, trigger)


class Acceptance(Enum):
    NEW = "new"
    RESUMED = "resumed"
    """Accepted by an earlier attempt that did not finish: evaluate again, children skip it."""
    DUPLICATE = "duplicate"
    STALE = "stale"
    """RUNNING for an execution that already ended (rule 2)."""


class CommitOutcome(Enum):
    COMMITTED = "committed"
    CONFLICT = "conflict"
    """The state changed since it was loaded: reload and apply again."""
    DUPLICATE_TRIGGER = "duplicate-trigger"
    """A trigger with this id was already recorded: commit the state without it."""


class TriggerStore(Protocol):
    def accept(self, event: RunEvent) -> Acceptance: ...

    def load(self, child: ParentRef) -> ChildState: ...

    def commit(self, child: ParentRef, expected_version: int, step: Step) -> CommitOutcome:
        """Atomically: state (if its version is still ``expected_version``), evaluation
        record, and trigger record (if the step has one and its id is new)."""
        ...

    def mark_published(self, child: ParentRef, trigger_ids: Sequence[str]) -> None: ...

    def finish(self, event: RunEvent) -> None: ...


class Publisher(Protocol):
    def publish(self, triggers: Sequence[Trigger]) -> None:
        """Publish every trigger or raise (the caller keeps them in the outbox)."""
        ...


class CommitConflictError(RuntimeError):
    """A child's state kept changing under us; the event is retried by the caller (Lambda)."""


@dataclass(frozen=True)
class Outcome:
    acceptance: Acceptance
    evaluations: tuple[Evaluation, ...] = ()
    published: tuple[Trigger, ...] = ()
    """Triggers published by this call, in the order they were recorded."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class TriggerEngine:
    store: TriggerStore
    publisher: Publisher
    wall_clock: Callable[[], datetime] = _utc_now
    """Only for outbox leases; §5's clock is the ``now`` passed to :meth:`process`."""
    outbox_lease: timedelta = timedelta(seconds=30)
    """An outbox entry younger than this belongs to the invocation that recorded it: another
    invocation publishing it too would double it. Lambda retries come after a minute."""
    max_attempts: int = 25

    def process(
        self,
        event: RunEvent,
        children: Sequence[tuple[ParentRef, Condition]],
        now: datetime,
        acceptance: Acceptance | None = None,
    ) -> Outcome:
        """``acceptance``: when the caller already ran ``store.accept`` (with run details)."""
        if acceptance is None:
            acceptance = self.store.accept(event)
        if acceptance in (Acceptance.DUPLICATE, Acceptance.STALE):
            return Outcome(acceptance)
        evaluations: list[Evaluation] = []
        outbox: dict[ParentRef, list[Trigger]] = {}
        complete = True
        # Children in (name, account) order, whatever order the registry returned them in.
        for child, condition in sorted(children, key=lambda pair: pair[0]):
            own, inherited, lease_held = self._evaluate(child, condition, event, now, evaluations)
            complete = complete and not lease_held
            if inherited or own:
                outbox[child] = [*inherited, *own]
        # Batches of up to 10 (one PutEvents each), every batch cleared from its children's
        # outboxes once accepted: a later failure never republishes an earlier batch.
        pending = [(child, trigger) for child, triggers in outbox.items() for trigger in triggers]
        published: list[Trigger] = []
        for start in range(0, len(pending), PUBLISH_BATCH):
            batch = pending[start : start + PUBLISH_BATCH]
            self.publisher.publish([trigger for _, trigger in batch])
            by_child: dict[ParentRef, list[str]] = {}
            for child, trigger in batch:
                by_child.setdefault(child, []).append(trigger.trigger_id)
            for child, trigger_ids in by_child.items():
                self.store.mark_published(child, trigger_ids)
            published += [trigger for _, trigger in batch]
        if complete:
            self.store.finish(event)
        return Outcome(acceptance, tuple(evaluations), tuple(published))

    def _evaluate(
        self,
        child: ParentRef,
        condition: Condition,
        event: RunEvent,
        now: datetime,
        evaluations: list[Evaluation],
    ) -> tuple[list[Trigger], list[Trigger], bool]:
        """Apply and commit; returns (new triggers, expired outbox entries, lease held)."""
        for _ in range(self.max_attempts):
            state = self.store.load(child)
            expiry = self.wall_clock() - self.outbox_lease
            inherited = [p.trigger for p in state.outbox.values() if p.recorded_at <= expiry]
            lease_held = any(p.recorded_at > expiry for p in state.outbox.values())
            step = apply_event(state, child, condition, event, now)
            if step is None:
                return [], inherited, lease_held
            # Into the outbox with the trigger record; the lease starts now (wall clock).
            if step.trigger is not None:
                entry = PendingTrigger(step.trigger, self.wall_clock())
                outbox = {**step.state.outbox, step.trigger.trigger_id: entry}
                step = replace(step, state=replace(step.state, outbox=outbox))
            outcome = self.store.commit(child, state.version, step)
            if outcome is CommitOutcome.DUPLICATE_TRIGGER and step.trigger is not None:
                outbox = {
                    k: v for k, v in step.state.outbox.items() if k != step.trigger.trigger_id
                }
                step = Step(replace(step.state, outbox=outbox), step.evaluation, None)
                outcome = self.store.commit(child, state.version, step)
            if outcome is CommitOutcome.COMMITTED:
                evaluations.append(step.evaluation)
                own = [step.trigger] if step.trigger is not None else []
                return own, inherited, lease_held
        raise CommitConflictError(
            f"{child}: state kept changing during {self.max_attempts} attempts"
        )
