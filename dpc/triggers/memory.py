"""The in-memory :class:`~dpc.triggers.engine.TriggerStore`: ``dpc simulate`` and unit tests.

It keeps what the DynamoDB store keeps, in dictionaries, with the same compare-and-set
contract, so the engine cannot tell them apart.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from dpc.triggers.engine import Acceptance, CommitOutcome, Publisher
from dpc.triggers.events import Evaluation, RunEvent, RunRecord, Trigger
from dpc.triggers.model import TERMINAL_STATUSES, ParentRef
from dpc.triggers.periods import Period
from dpc.triggers.rules import ChildState, Step

StateKey = tuple[ParentRef, Period | None]


@dataclass
class MemoryStore:
    states: dict[StateKey, ChildState] = field(default_factory=dict)
    triggers: dict[str, Trigger] = field(default_factory=dict)
    evaluations: list[Evaluation] = field(default_factory=list)
    _accepted: dict[tuple[ParentRef, str], set[str]] = field(default_factory=dict)
    _finished: set[tuple[ParentRef, str, str]] = field(default_factory=set)
    _claimed_at: dict[str, datetime] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def accept(self, event: RunEvent, record: RunRecord) -> Acceptance:
        with self._lock:
            statuses = self._accepted.setdefault((event.pipeline, event.execution), set())
            if event.status in statuses:
                finished = (event.pipeline, event.execution, event.status) in self._finished
                return Acceptance.DUPLICATE if finished else Acceptance.RESUMED
            if event.status == "RUNNING" and statuses & TERMINAL_STATUSES:
                return Acceptance.STALE
            statuses.add(event.status)
            return Acceptance.NEW

    def load(self, child: ParentRef, period: Period | None) -> ChildState:
        with self._lock:
            return self.states.get((child, period), ChildState())

    def load_many(self, addresses: Sequence[StateKey]) -> dict[StateKey, ChildState]:
        with self._lock:
            return {address: self.states.get(address, ChildState()) for address in addresses}

    def commit(
        self, child: ParentRef, period: Period | None, expected_version: int, step: Step
    ) -> CommitOutcome:
        with self._lock:
            if step.state is None:
                self.evaluations.append(step.evaluation)
                return CommitOutcome.COMMITTED
            if self.states.get((child, period), ChildState()).version != expected_version:
                return CommitOutcome.CONFLICT
            if step.trigger is not None:
                if step.trigger.trigger_id in self.triggers:
                    return CommitOutcome.DUPLICATE_TRIGGER
                self.triggers[step.trigger.trigger_id] = step.trigger
            self.states[(child, period)] = replace(step.state, version=expected_version + 1)
            self.evaluations.append(step.evaluation)
            return CommitOutcome.COMMITTED

    def mark_published(
        self, child: ParentRef, period: Period | None, trigger_ids: Sequence[str]
    ) -> None:
        with self._lock:
            state = self.states[(child, period)]
            outbox = {k: v for k, v in state.outbox.items() if k not in trigger_ids}
            # Like the DynamoDB store: the outbox is edited in place, the version is untouched.
            self.states[(child, period)] = replace(state, outbox=outbox)

    def claim(
        self,
        child: ParentRef,
        period: Period | None,
        trigger_id: str,
        now: datetime,
        lease: timedelta,
    ) -> bool:
        with self._lock:
            entry = self.states.get((child, period), ChildState()).outbox.get(trigger_id)
            claimed_at = self._claimed_at.get(trigger_id)
            expiry = now - lease
            if entry is None or entry.recorded_at > expiry:
                return False
            if claimed_at is not None and claimed_at > expiry:
                return False
            self._claimed_at[trigger_id] = now
            return True

    def finish(self, event: RunEvent) -> None:
        with self._lock:
            self._finished.add((event.pipeline, event.execution, event.status))


@dataclass
class CollectingPublisher:
    """Keeps what was published, in order: ``dpc simulate``'s output and the tests' view.

    With ``inner`` (e.g. the EventBridge publisher) a trigger is kept only once ``inner``
    accepted it."""

    inner: Publisher | None = None
    published: list[Trigger] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, triggers: Sequence[Trigger]) -> None:
        if self.inner is not None:
            self.inner.publish(triggers)
        with self._lock:
            self.published.extend(triggers)
