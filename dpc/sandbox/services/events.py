"""EventBridge's ``PutEvents``, answered here and never by moto: entries are validated as
EventBridge validates them, a cross-account put the target bus's deployed policy does not
admit is refused, and what is accepted is queued for delivery (``buses``) on the virtual
clock. Under chaos, an entry sometimes fails, and a trigger manager's invocation
sometimes dies between recording its triggers and publishing them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dpc import constants
from dpc.sandbox.bus import BusEvent
from dpc.sandbox.chaos import Chaos
from dpc.sandbox.clock import VirtualClock
from dpc.sandbox.endpoint import Call, Endpoint, Response, json_error, json_response
from dpc.sandbox.server import SandboxServer
from dpc.sandbox.services.buses import Buses
from dpc.sandbox.services.shared import Arn, note
from dpc.sandbox.timeline import Timeline, TriggerPublished

MAX_ENTRIES = 10


@dataclass
class PutEvents:
    server: SandboxServer
    clock: VirtualClock
    timeline: Timeline
    buses: Buses
    chaos: Chaos | None = None

    def install(self, endpoint: Endpoint) -> None:
        endpoint.intercept("events", "PutEvents", self._call)

    def _call(self, call: Call) -> Response:
        sender = self.server.account_of_key(call.access_key)
        try:
            results = self._put_events(sender, call.region, call.json().get("Entries", []))
        except _Refused as refused:
            return json_error(refused.code, refused.message)
        failed = sum(1 for result in results if "ErrorCode" in result)
        return json_response({"FailedEntryCount": failed, "Entries": results})

    def _put_events(
        self, sender: str, region: str, events: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Runs on a server thread: check, answer, and queue; deliver nothing here."""
        if len(events) > MAX_ENTRIES:
            raise _Refused(
                "ValidationException",
                "1 validation error detected: Value '[PutEventsRequestEntry]' at 'entries' "
                "failed to satisfy constraint: Member must have length less than or equal to 10",
            )
        if (
            self.chaos
            and events
            and all(e.get("Source") == constants.TRIGGER_EVENT_SOURCE for e in events)
            and self.chaos.crashes_before_publish()
        ):
            # The invocation dies after committing its triggers and before they reach the
            # bus: nothing of this call is accepted, and its caller fails as a crash would.
            note(
                self.timeline,
                self.clock,
                f"chaos: {sender}'s invocation crashed between recording {len(events)} "
                "trigger(s) and publishing them",
                "chaos",
            )
            raise _Refused("ChaosCrash", "the invocation crashed before publishing")
        results = []
        for entry in events:
            problem = _entry_problem(entry)
            if problem:
                results.append(problem)
                continue
            if self.chaos and self.chaos.fails_put_events_entry():
                results.append(
                    {"ErrorCode": "InternalFailure", "ErrorMessage": "Internal service error"}
                )
                continue
            bus_account, bus_region, bus_name = _bus_of(sender, region, entry)
            if bus_account != sender and not self.buses.admits(
                bus_account, bus_region, bus_name, sender
            ):
                note(
                    self.timeline,
                    self.clock,
                    f"refused: account {sender} may not put events on {bus_name} of "
                    f"{bus_account} ({entry.get('DetailType')})",
                    "refused",
                )
                results.append(
                    {
                        "ErrorCode": "AccessDeniedException",
                        "ErrorMessage": f"Account {sender} is not authorized to put events "
                        f"on event bus {bus_name} of account {bus_account}",
                    }
                )
                continue
            envelope = self.buses.envelope(
                source=entry["Source"],
                detail_type=entry["DetailType"],
                detail=json.loads(entry["Detail"]),
                account=sender,
                region=region,
                resources=entry.get("Resources", []),
                time=_entry_time(entry.get("Time")),
            )
            if bus_account == sender:
                self._record_trigger(envelope)
            self.buses.put_on_bus(BusEvent(bus_account, bus_region, bus_name, envelope))
            results.append({"EventId": envelope["id"]})
        return results

    def _record_trigger(self, envelope: dict[str, Any]) -> None:
        """A trigger is what the trigger manager publishes on its own account's bus; the same
        event put on that bus by another account is not one (and is told as such)."""
        if (
            envelope["source"] == constants.TRIGGER_EVENT_SOURCE
            and envelope["detail-type"] == constants.TRIGGER_DETAIL_TYPE
        ):
            detail = envelope["detail"]
            self.timeline.add(
                TriggerPublished(
                    self.clock.now,
                    detail.get("pipeline", ""),
                    detail.get("account", ""),
                    detail.get("trigger_id", ""),
                    tuple(detail.get("causes", [])),
                    detail.get("period"),
                )
            )


class _Refused(Exception):
    """A PutEvents request refused whole, with the error EventBridge answers."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _bus_of(sender: str, region: str, entry: dict[str, Any]) -> tuple[str, str, str]:
    bus = entry.get("EventBusName") or "default"
    if bus.startswith("arn:"):
        arn = Arn.parse(bus)
        return arn.account, arn.region, arn.resource.split("/", 1)[1]
    return sender, region, bus


def _entry_time(value: Any) -> datetime | None:
    """A PutEvents entry's ``Time`` as the JSON protocol sends it (epoch seconds, or ISO)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _entry_problem(entry: dict[str, Any]) -> dict[str, str] | None:
    for name in ("Source", "DetailType", "Detail"):
        if not entry.get(name):
            return {
                "ErrorCode": "InvalidArgument",
                "ErrorMessage": f"Parameter {name} is not valid. Reason: {name} is a required "
                "argument.",
            }
    if entry["Source"].startswith("aws."):
        # AWS reserves aws.* sources for its services; rules that trust them (the
        # trigger manager's aws.states rule) rely on customers not being able to put them.
        return {
            "ErrorCode": "NotAuthorizedForSourceException",
            "ErrorMessage": "Not authorized for the source.",
        }
    try:
        json.loads(entry["Detail"])
    except ValueError:
        return {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    return None
