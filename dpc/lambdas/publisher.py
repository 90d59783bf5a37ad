"""Publishing ``Pipeline Trigger`` events (DESIGN §6) on the central bus with PutEvents.

PutEvents accepts 10 entries per call and can fail some entries of a call (throttling,
internal errors) while accepting the rest: only the failed entries are sent again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dpc.constants import TRIGGER_DETAIL_TYPE, TRIGGER_EVENT_SOURCE
from dpc.triggers.events import Trigger

BATCH_SIZE = 10


class PublishError(RuntimeError):
    """Some triggers could not be published; they stay in the outbox for the next attempt."""


@dataclass(frozen=True)
class EventBridgePublisher:
    bus_name: str
    client: Any
    max_attempts: int = 5
    sleep: Callable[[float], None] = time.sleep

    def entry(self, trigger: Trigger) -> dict[str, Any]:
        return {
            "Source": TRIGGER_EVENT_SOURCE,
            "DetailType": TRIGGER_DETAIL_TYPE,
            "Detail": json.dumps(trigger.detail()),
            "EventBusName": self.bus_name,
        }

    def publish(self, triggers: Sequence[Trigger]) -> None:
        for start in range(0, len(triggers), BATCH_SIZE):
            self._publish_batch([self.entry(t) for t in triggers[start : start + BATCH_SIZE]])

    def _publish_batch(self, entries: list[dict[str, Any]]) -> None:
        for attempt in range(self.max_attempts):
            response = self.client.put_events(Entries=entries)
            if not response.get("FailedEntryCount"):
                return
            entries = [
                entry
                for entry, result in zip(entries, response["Entries"], strict=True)
                if result.get("ErrorCode")
            ]
            self.sleep(min(0.1 * 2**attempt, 2.0))
        raise PublishError(f"{len(entries)} trigger event(s) not accepted by PutEvents")
