"""Chaos: the faults AWS documents, injected where AWS would produce them, from one seed.

A chaos run must end with exactly the runs of the clean run (issue 11): the faults below are
the ones dpc's design claims to survive, each at the place of the embedded AWS that would
produce it on AWS, so the product code meets them through its ordinary API calls.

- **Dropped status events**: Step Functions' "Execution Status Change" events are best
  effort; one that never reaches the default bus is recovered by the status sweeper.
- **Duplicate deliveries**: EventBridge delivers at least once; a second copy of an event
  reaches a rule's target (the starter's deterministic names and the trigger manager's
  dedup make it harmless).
- **Late deliveries**: a target that is briefly unavailable gets the event on a retry, up
  to minutes later — so events arrive out of order.
- **Failed invocations**: an asynchronous Lambda invocation fails (a cold-start error, a
  timeout), sometimes *after* the handler did its work; Lambda retries it twice, then
  hands it to the function's on-failure destination, whence the operator redrives it.
- **Partial PutEvents failures**: EventBridge answers an entry with ``InternalFailure``.
- **DynamoDB throttling**: a request is answered with ``ThrottlingException``, as a table at
  its capacity answers; botocore's retries absorb it, or the invocation fails and is retried.
- **A crash between trigger record and publish**: the trigger manager (or the outbox sweep)
  dies after committing its triggers and before its PutEvents reaches the bus; the outbox
  holds them until the lease expires, then a redelivery or the outbox sweep publishes them.

Every decision draws from one ``random.Random(seed)`` in the order the virtual clock runs
actions, which is deterministic, so a seed replays the same faults.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum


class InvocationFault(Enum):
    BEFORE = "failed before the handler ran"
    AFTER = "timed out after the handler did its work"


@dataclass
class Chaos:
    seed: int
    drop_status_event: float = 0.15
    duplicate_delivery: float = 0.2
    late_delivery: float = 0.15
    failed_invocation: float = 0.2
    put_events_failure: float = 0.1
    dynamodb_throttle: float = 0.01
    """Per request; low, since each throttle costs the client a real retry back-off."""
    crash_before_publish: float = 0.3
    max_late_seconds: int = 600
    counts: Counter[str] = field(default_factory=Counter)
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def _draw(self, probability: float, what: str) -> bool:
        hit = self._random.random() < probability
        if hit:
            self.counts[what] += 1
        return hit

    def drops_status_event(self) -> bool:
        return self._draw(self.drop_status_event, "status events dropped")

    def copies(self) -> int:
        """How many times one event reaches one target (at least once)."""
        return 2 if self._draw(self.duplicate_delivery, "duplicate deliveries") else 1

    def delivery_delay(self) -> int:
        """Seconds until a target gets the event (0: at once)."""
        if not self._draw(self.late_delivery, "late deliveries"):
            return 0
        return self._random.randint(1, self.max_late_seconds)

    def invocation_fault(self) -> InvocationFault | None:
        if not self._draw(self.failed_invocation, "failed invocations"):
            return None
        return self._random.choice(list(InvocationFault))

    def fails_put_events_entry(self) -> bool:
        return self._draw(self.put_events_failure, "PutEvents entries failed")

    def throttles_dynamodb(self) -> bool:
        return self._draw(self.dynamodb_throttle, "DynamoDB requests throttled")

    def crashes_before_publish(self) -> bool:
        return self._draw(self.crash_before_publish, "crashes between record and publish")

    def summary(self) -> str:
        parts = [f"{count} {what}" for what, count in sorted(self.counts.items())]
        return f"chaos seed {self.seed}: " + (", ".join(parts) if parts else "no fault drawn")
