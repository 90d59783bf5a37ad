"""DESIGN §5 and §5b as code: which children a run status change starts, exactly once, and why.

Pure: no I/O, no clocks read here except the outbox lease's wall clock, which is injected.
Storage is a small protocol (:class:`TriggerStore`) with two implementations, in memory
(dpc.triggers.memory, used by ``dpc simulate``) and on DynamoDB (dpc.lambdas.store_dynamodb,
used by the trigger-manager Lambda), so simulate and production run the same rules. The rules
themselves are in dpc.triggers.rules, the records they produce in dpc.triggers.events.

How one event is processed (:meth:`TriggerEngine.process`):

1. ``store.accept`` logs the run and decides rules 1-2 for the execution: new, duplicate,
   terminal-then-RUNNING (stale), or accepted before but not finished (a redelivery after a
   crash: resume).
2. For each child (:meth:`TriggerEngine.evaluate`, which a large fan-out runs once per
   chunk of children, dpc.lambdas.trigger_manager; states are read in one batch): find the
   state the event concerns (the child's, or for a correlated child the state of the period
   the event maps to, P1), apply the event, and commit with a compare-and-set on the
   state's version, together with the evaluation record and, if the condition holds, the
   trigger record keyed by the trigger id (a conditional write: a trigger id is recorded
   once). A lost race reloads and re-applies. An event that cannot change the state (a
   closed period, P6; ``propagate: false``, P8) only records its evaluation.
3. Publish the new triggers and any unpublished ones left in that state's outbox by a crashed
   invocation (once their lease has expired and this invocation won the claim on them:
   the central outbox sweep takes such entries over too, dpc.lambdas.outbox_sweeper), then
   clear them from the outbox.
4. ``store.finish`` marks the event done, so a later duplicate costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Protocol

from dpc.constants import OUTBOX_LEASE_SECONDS
from dpc.triggers.events import Evaluation, PendingTrigger, RunEvent, RunRecord, Trigger
from dpc.triggers.model import Condition, ParentRef
from dpc.triggers.periods import Period, child_period
from dpc.triggers.rules import ChildState, Step, apply_latest, apply_period, event_period
from dpc.triggers.timefmt import format_duration

PUBLISH_BATCH = 10
"""Triggers per PutEvents call (the API's limit)."""

FANOUT_CHUNK_SIZE = 200
"""Children one invocation evaluates. A child costs about two requests (its commit, its share
of the batch read, publish and outbox clearing), so a chunk is ~420 requests: 8.4 s at 20 ms
a request, a seventh of the trigger manager's 60 s timeout (bench/fan_out.py)."""

OUTBOX_LEASE = timedelta(seconds=OUTBOX_LEASE_SECONDS)
"""How long an outbox entry belongs to the invocation that recorded (or claimed) it. Longer
than the trigger manager's timeout, so a live invocation never sees its own trigger
published by another; shorter than the outbox sweep's schedule."""


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


StateAddress = tuple[ParentRef, Period | None]
"""A child's state: (child, None) for a ``latest`` child, (child, period) for a correlated one."""


class TriggerStore(Protocol):
    """State is addressed by (child, period): period None is a ``latest`` child's one state,
    a period is one of a correlated child's per-period states."""

    def accept(self, event: RunEvent, record: RunRecord) -> Acceptance:
        """Log the run (with what only the Lambda knows, ``record``) and decide rules 1-2."""
        ...

    def load(self, child: ParentRef, period: Period | None) -> ChildState: ...

    def load_many(self, addresses: Sequence[StateAddress]) -> Mapping[StateAddress, ChildState]:
        """Every state named, read at once (a state never written is a fresh one); the
        first attempt of each child's evaluation starts from these."""
        ...

    def commit(
        self, child: ParentRef, period: Period | None, expected_version: int, step: Step
    ) -> CommitOutcome:
        """Atomically: state (if its version is still ``expected_version``; a step without
        state only records its evaluation), evaluation record, and trigger record (if the
        step has one and its id is new)."""
        ...

    def mark_published(
        self, child: ParentRef, period: Period | None, trigger_ids: Sequence[str]
    ) -> None: ...

    def claim(
        self,
        child: ParentRef,
        period: Period | None,
        trigger_id: str,
        now: datetime,
        lease: timedelta,
    ) -> bool:
        """Atomically take over an outbox entry recorded, and not claimed, more than
        ``lease`` before ``now`` (wall clock); False if it is gone or someone holds it."""
        ...

    def finish(self, event: RunEvent) -> None: ...


class Publisher(Protocol):
    def publish(self, triggers: Sequence[Trigger]) -> None:
        """Publish every trigger or raise (the caller keeps them in the outbox)."""
        ...


class CommitConflictError(RuntimeError):
    """A child's state kept changing under us; the event is retried by the caller (Lambda)."""


@dataclass(frozen=True)
class Evaluated:
    """What evaluating one event for a set of children did."""

    evaluations: tuple[Evaluation, ...]
    published: tuple[Trigger, ...]
    complete: bool
    """False while a child's outbox holds an entry another live invocation owns: the event
    is not finished, so a redelivery evaluates again (and publishes it if still there)."""


@dataclass(frozen=True)
class Outcome:
    acceptance: Acceptance
    evaluations: tuple[Evaluation, ...] = ()
    published: tuple[Trigger, ...] = ()
    """Triggers published by this call, in the order they were recorded."""
    handed_off: int = 0
    """Children beyond the first chunk, handed to further invocations (:data:`HandOff`)."""


Children = Sequence[tuple[ParentRef, Condition]]

HandOff = Callable[[RunEvent, Children, datetime], None]
"""Takes over one chunk of an accepted event's children (the trigger manager: an asynchronous
invocation of itself, which Lambda retries and parks in its on-failure queue); returns once
the chunk is durably handed over, raises otherwise."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class TriggerEngine:
    store: TriggerStore
    publisher: Publisher
    wall_clock: Callable[[], datetime] = _utc_now
    """Only for outbox leases; §5's clock is the ``now`` passed to :meth:`process`."""
    outbox_lease: timedelta = OUTBOX_LEASE
    """An outbox entry younger than this belongs to the invocation that recorded it: another
    invocation publishing it too would double it."""
    max_attempts: int = 25
    hand_off: HandOff | None = None
    """With it, an event with more than ``chunk_size`` children evaluates the first chunk and
    hands the others over, one chunk each, so no invocation's work grows with the fan-out."""
    chunk_size: int = FANOUT_CHUNK_SIZE

    def process(
        self,
        event: RunEvent,
        children: Children,
        now: datetime,
        record: RunRecord | None = None,
    ) -> Outcome:
        """One event, start to end: accept (rules 1-2), evaluate every child (or the first
        chunk, handing the others over), finish."""
        acceptance = self.store.accept(event, record or RunRecord())
        if acceptance in (Acceptance.DUPLICATE, Acceptance.STALE):
            return Outcome(acceptance)
        # Children in (name, account) order, whatever order the registry returned them in.
        ordered = sorted(children, key=lambda pair: pair[0])
        handed_off = 0
        if self.hand_off is not None and len(ordered) > self.chunk_size:
            # Handed over before the first chunk is evaluated: if that fails, the event is
            # redelivered, hands over again (a repeated chunk changes nothing) and only then
            # is finished, so no chunk depends on an invocation that may never come back.
            for start in range(self.chunk_size, len(ordered), self.chunk_size):
                self.hand_off(event, ordered[start : start + self.chunk_size], now)
            handed_off = len(ordered) - self.chunk_size
            ordered = ordered[: self.chunk_size]
        evaluated = self.evaluate(event, ordered, now)
        if evaluated.complete:
            self.store.finish(event)
        return Outcome(acceptance, evaluated.evaluations, evaluated.published, handed_off)

    def evaluate(self, event: RunEvent, children: Children, now: datetime) -> Evaluated:
        """Apply an accepted event to ``children``, commit, publish. Safe to repeat for the
        same event and children (a redelivered fan-out chunk): a child whose state already
        holds the event changes nothing, and only publishes what its outbox still holds."""
        evaluations: list[Evaluation] = []
        outbox: dict[StateAddress, list[Trigger]] = {}
        complete = True
        # Children in (name, account) order, whatever order the registry returned them in.
        ordered = sorted(children, key=lambda pair: pair[0])
        addresses = [self._address(child, condition, event) for child, condition in ordered]
        loaded = self.store.load_many(
            [
                address
                for address, (_, condition) in zip(addresses, ordered, strict=True)
                if self._changeable(address, condition, event, now)
            ]
        )
        for address, (child, condition) in zip(addresses, ordered, strict=True):
            own, inherited, lease_held = self._evaluate(
                address, condition, event, now, evaluations, loaded.get(address)
            )
            complete = complete and not lease_held
            wall = self.wall_clock()
            inherited = [
                t
                for t in inherited
                if self.store.claim(child, address[1], t.trigger_id, wall, self.outbox_lease)
            ]
            if inherited or own:
                outbox[address] = [*inherited, *own]
        # Batches of up to 10 (one PutEvents each), every batch cleared from its states'
        # outboxes once accepted: a later failure never republishes an earlier batch.
        pending = [(where, trigger) for where, triggers in outbox.items() for trigger in triggers]
        published: list[Trigger] = []
        for start in range(0, len(pending), PUBLISH_BATCH):
            batch = pending[start : start + PUBLISH_BATCH]
            self.publisher.publish([trigger for _, trigger in batch])
            by_state: dict[StateAddress, list[str]] = {}
            for where, trigger in batch:
                by_state.setdefault(where, []).append(trigger.trigger_id)
            for (owner, owner_period), trigger_ids in by_state.items():
                self.store.mark_published(owner, owner_period, trigger_ids)
            published += [trigger for _, trigger in batch]
        return Evaluated(tuple(evaluations), tuple(published), complete)

    @staticmethod
    def _address(child: ParentRef, condition: Condition, event: RunEvent) -> StateAddress:
        period = child_period(event_period(event), condition.period.unit)
        return (child, period if condition.correlated else None)

    @staticmethod
    def _changeable(
        address: StateAddress, condition: Condition, event: RunEvent, now: datetime
    ) -> bool:
        """False when the event can only be recorded for this child: it was started with
        ``propagate: false`` (P8), or its period is closed (P6)."""
        period = address[1]
        return event.propagate and (period is None or now - period.end <= condition.keep)

    def _record_only(
        self,
        address: tuple[ParentRef, Period | None],
        event: RunEvent,
        now: datetime,
        reason: str,
        evaluations: list[Evaluation],
    ) -> None:
        child, period = address
        evaluation = Evaluation(child, event, "IGNORED", now, notes=(reason,), period=period)
        self.store.commit(child, period, 0, Step(None, evaluation, None))
        evaluations.append(evaluation)

    def _evaluate(
        self,
        address: tuple[ParentRef, Period | None],
        condition: Condition,
        event: RunEvent,
        now: datetime,
        evaluations: list[Evaluation],
        preloaded: ChildState | None = None,
    ) -> tuple[list[Trigger], list[Trigger], bool]:
        """Apply and commit; returns (new triggers, expired outbox entries, lease held).
        ``preloaded`` is the state read with the other children's; after a lost race the
        state is read again."""
        child, period = address
        if not event.propagate:
            self._record_only(
                address,
                event,
                now,
                f"ignored: {event.pipeline} run {event.execution} was started with "
                "--no-downstream (propagate: false), so no child starts on it",
                evaluations,
            )
            return [], [], False
        if period is not None and now - period.end > condition.keep:
            self._record_only(
                address,
                event,
                now,
                f"ignored: period {period} is closed (it ended more than "
                f"keep={format_duration(condition.keep)} before the clock)",
                evaluations,
            )
            return [], [], False
        for attempt in range(self.max_attempts):
            if attempt == 0 and preloaded is not None:
                state = preloaded
            else:
                state = self.store.load(child, period)
            expiry = self.wall_clock() - self.outbox_lease
            inherited = [p.trigger for p in state.outbox.values() if p.recorded_at <= expiry]
            lease_held = any(p.recorded_at > expiry for p in state.outbox.values())
            if period is None:
                step = apply_latest(state, child, condition, event, now)
            else:
                step = apply_period(state, child, condition, event, period, now)
            if step is None:
                return [], inherited, lease_held
            assert step.state is not None
            # Into the outbox with the trigger record; the lease starts now (wall clock).
            if step.trigger is not None:
                entry = PendingTrigger(step.trigger, self.wall_clock())
                outbox = {**step.state.outbox, step.trigger.trigger_id: entry}
                step = replace(step, state=replace(step.state, outbox=outbox))
            outcome = self.store.commit(child, period, state.version, step)
            if outcome is CommitOutcome.DUPLICATE_TRIGGER and step.trigger is not None:
                assert step.state is not None
                outbox = {
                    k: v for k, v in step.state.outbox.items() if k != step.trigger.trigger_id
                }
                step = Step(replace(step.state, outbox=outbox), step.evaluation, None)
                outcome = self.store.commit(child, period, state.version, step)
            if outcome is CommitOutcome.COMMITTED:
                evaluations.append(step.evaluation)
                own = [step.trigger] if step.trigger is not None else []
                return own, inherited, lease_held
        raise CommitConflictError(
            f"{child}: state kept changing during {self.max_attempts} attempts"
        )
