"""What a state machine's run needs from the emulated services around it, as protocols:
``statemachine`` is written against these, ``services.states`` hands it the services that
satisfy them, and neither the state machines nor these protocols import a service."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dpc.sandbox.bus import BusEvent

if TYPE_CHECKING:
    from dpc.sandbox.chaos import Chaos
    from dpc.sandbox.clock import VirtualClock
    from dpc.sandbox.server import SandboxServer


class Bus(Protocol):
    """Where an execution's status events go (EventBridge)."""

    def put_on_bus(self, event: BusEvent) -> None: ...

    def envelope(
        self,
        *,
        source: str,
        detail_type: str,
        detail: Any,
        account: str,
        region: str,
        resources: list[str] | None = None,
        time: Any = None,
    ) -> dict[str, Any]: ...


class Functions(Protocol):
    """What runs a ``lambda:invoke`` task (Lambda)."""

    def invoke(self, function_arn: str, event: Any) -> Any: ...


class Publisher(Protocol):
    """What an ``sns:publish`` task publishes through (SNS)."""

    def publish(self, topic_arn: str, message: str, subject: str | None) -> None: ...


class LogDelivery(Protocol):
    """Where an execution logged at level ALL sends its history (CloudWatch Logs)."""

    def log_subscribers(self, account: str, log_group: str) -> list[str]: ...

    def deployed_log_group(self, account: str, state_machine_arn: str) -> str | None: ...

    def deliver_logs(
        self, destinations: list[str], log_group: str, messages: list[str]
    ) -> None: ...


class Integrations(Protocol):
    """What an execution needs from the emulated services around it: the clock, the
    other services its tasks call, and where its events and logs go. Protocols, so the
    state machines never import the services that run them."""

    @property
    def server(self) -> SandboxServer: ...

    @property
    def clock(self) -> VirtualClock: ...

    @property
    def work_dir(self) -> Path: ...

    @property
    def chaos(self) -> Chaos | None: ...

    @property
    def faults(self) -> dict[tuple[str, str], str]: ...

    @property
    def buses(self) -> Bus: ...

    @property
    def lambdas(self) -> Functions: ...

    @property
    def topics(self) -> Publisher: ...

    @property
    def logs(self) -> LogDelivery: ...

    def note(self, text: str, level: str = "info") -> None: ...

    def record_status(
        self, account: str, state_machine: str, execution: str, status: str
    ) -> None: ...
