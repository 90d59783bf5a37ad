"""An event on a bus: what the events emulation delivers and a state machine puts.

Its own module so the state machines and the EventBridge emulation
(``services.buses``, ``services.events``) both import it, and neither imports the other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BusEvent:
    """An event on one bus, in the envelope EventBridge hands to rules and targets."""

    bus_account: str
    region: str
    bus_name: str
    envelope: dict[str, Any]
