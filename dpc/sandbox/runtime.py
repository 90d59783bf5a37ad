"""What moto does not do, done from what was deployed: the composition root of the
emulated services (``dpc.sandbox.services``), each built with only the few others it
calls, and installed at the sandbox's endpoint together.

``dpc.sandbox.chaos`` injects AWS's documented faults where each service would meet them;
a chaos set here reaches every service that injects one.
"""

from __future__ import annotations

from pathlib import Path

from dpc.sandbox.chaos import Chaos
from dpc.sandbox.clock import VirtualClock
from dpc.sandbox.endpoint import Endpoint
from dpc.sandbox.server import SandboxServer
from dpc.sandbox.services.buses import Buses
from dpc.sandbox.services.dynamodb import DynamoDb
from dpc.sandbox.services.events import PutEvents
from dpc.sandbox.services.lambdas import Lambdas
from dpc.sandbox.services.logs import Logs
from dpc.sandbox.services.schedules import Schedules
from dpc.sandbox.services.shared import DeployedStacks, note
from dpc.sandbox.services.sns import Topics
from dpc.sandbox.services.states import States
from dpc.sandbox.timeline import Timeline


class Runtime:
    def __init__(
        self,
        server: SandboxServer,
        clock: VirtualClock,
        timeline: Timeline,
        work_dir: Path,
        organization_id: str | None = None,
    ) -> None:
        self.server = server
        self.clock = clock
        self.timeline = timeline
        self.stacks = DeployedStacks(server)
        self.lambdas = Lambdas(server, clock, timeline, self.stacks, work_dir)
        self.topics = Topics(server, clock, timeline, self.stacks, self.lambdas)
        self.logs = Logs(server, self.stacks, self.lambdas)
        self.buses = Buses(
            server, clock, timeline, self.stacks, self.lambdas, self.topics, organization_id
        )
        self.put_events = PutEvents(server, clock, timeline, self.buses)
        self.states = States(
            server, clock, timeline, work_dir, self.buses, self.lambdas, self.topics, self.logs
        )
        self.schedules = Schedules(server, clock, self.buses)
        self.dynamodb = DynamoDb()
        self._chaos: Chaos | None = None

    @property
    def chaos(self) -> Chaos | None:
        """Faults to inject (``dpc demo --chaos SEED``); None: a clean run."""
        return self._chaos

    @chaos.setter
    def chaos(self, chaos: Chaos | None) -> None:
        self._chaos = chaos
        self.put_events.chaos = chaos
        self.buses.chaos = chaos
        self.lambdas.chaos = chaos
        self.states.chaos = chaos
        self.dynamodb.chaos = chaos

    def install(self, endpoint: Endpoint) -> None:
        """Register every service's interceptions at ``endpoint``."""
        self.put_events.install(endpoint)
        self.states.install(endpoint)
        self.topics.install(endpoint)
        self.lambdas.install(endpoint)
        self.dynamodb.install(endpoint)

    def uninstall(self) -> None:
        self.lambdas.uninstall()

    def note(self, text: str, level: str = "info") -> None:
        note(self.timeline, self.clock, text, level)
