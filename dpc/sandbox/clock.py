"""The virtual clock: a discrete-event scheduler, so two days of a story run in seconds.

Everything the sandbox does happens at a virtual time: schedule rules fire at their cron
ticks, an event is delivered at the time it was put, a state machine's task finishes a
nominal duration after it started. Actions run one at a time, in time order (ties in the
order they were scheduled), on the thread that advances the clock; actions scheduled from
moto's server threads (an event put by a handler) join the same queue under a lock.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime

Action = Callable[[], object]
"""What the clock runs; whatever it returns is ignored."""


class VirtualClock:
    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)
        self._queue: list[tuple[datetime, int, Action]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()

    @property
    def now(self) -> datetime:
        return self._now

    def at(self, moment: datetime, action: Action) -> None:
        """Run ``action`` when the clock reaches ``moment`` (now, if it is in the past)."""
        with self._lock:
            heapq.heappush(self._queue, (max(moment, self._now), next(self._order), action))

    def soon(self, action: Action) -> None:
        """Run ``action`` at the current time, after what is already due now."""
        self.at(self._now, action)

    def run_until(self, end: datetime) -> None:
        """Run every action due up to ``end`` (inclusive), then stop the clock at ``end``."""
        while True:
            with self._lock:
                if not self._queue or self._queue[0][0] > end:
                    break
                moment, _, action = heapq.heappop(self._queue)
                self._now = max(self._now, moment)
            action()
        self._now = max(self._now, end)

    def settle(self) -> None:
        """Run what is due at the current time (deliveries caused by a direct API call)."""
        self.run_until(self._now)
