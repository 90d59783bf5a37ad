"""The central account's trigger pieces wired together on given boto3 clients: the tables,
the bus, the registry and the trigger manager — for ``dpc simulate --backend dynamodb``, the
tests and the benchmark, which run them on moto. The deployed stack builds the same pieces
from CloudFormation instead; nothing here is used by a deployed Lambda.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dpc.constants import (
    CENTRAL_BUS_NAME,
    ENV_DEPENDENCIES_TABLE,
    ENV_EVENT_BUS_NAME,
    ENV_TRIGGER_STATE_TABLE,
)
from dpc.lambdas import arns
from dpc.lambdas.publisher import EventBridgePublisher
from dpc.lambdas.registry import DynamoDbRegistry, Registration
from dpc.lambdas.tables import create_tables
from dpc.lambdas.trigger_manager import Settings, TriggerManager, status_change_event
from dpc.triggers.engine import Acceptance, Outcome
from dpc.triggers.events import RunEvent
from dpc.triggers.memory import CollectingPublisher
from dpc.triggers.model import Condition, ParentRef
from dpc.triggers.replay import replay


def state_machine_arn(ref: ParentRef, region: str = "eu-west-1") -> str:
    return arns.state_machine_arn(region, ref.account, ref.name)


@dataclass(frozen=True)
class LocalCentral:
    dynamodb: Any
    events: Any
    settings: Settings
    registry: DynamoDbRegistry

    @classmethod
    def create(
        cls, dynamodb: Any, events: Any, bus_name: str = CENTRAL_BUS_NAME, prefix: str = "dpc-"
    ) -> LocalCentral:
        """Tables named ``<prefix><logical id>``: several centrals can share one moto."""
        environment = create_tables(dynamodb, prefix=prefix)
        events.create_event_bus(Name=bus_name)
        settings = Settings.from_env({**environment, ENV_EVENT_BUS_NAME: bus_name})
        registry = DynamoDbRegistry(
            environment[ENV_DEPENDENCIES_TABLE],
            dynamodb,
            state_table=environment[ENV_TRIGGER_STATE_TABLE],
        )
        return cls(dynamodb, events, settings, registry)

    def register(self, ref: ParentRef, condition: Condition | None = None) -> None:
        self.registry.register(Registration(ref, state_machine_arn(ref), condition))

    def manager(self, **options: Any) -> TriggerManager:
        return TriggerManager(self.settings, dynamodb=self.dynamodb, events=self.events, **options)

    def replay(
        self,
        pipelines: Sequence[ParentRef],
        conditions: Mapping[ParentRef, Condition],
        events: Sequence[RunEvent],
    ) -> Iterator[tuple[int, Outcome]]:
        """``dpc simulate --backend dynamodb``: register the org, then feed each event to the
        handler logic as the native Step Functions event, under §5's simulated clock."""
        for ref in pipelines:
            self.register(ref, conditions.get(ref))
        publisher = CollectingPublisher(
            EventBridgePublisher(self.settings.event_bus_name, self.events)
        )
        clock: list[datetime] = []
        manager = self.manager(publisher=publisher, clock=lambda: clock[-1])
        started: dict[tuple[ParentRef, str], datetime] = {}

        def process(event: RunEvent, now: datetime) -> Outcome:
            clock.append(now)
            first = started.setdefault((event.pipeline, event.execution), event.time)
            started_at = event.time if event.status == "RUNNING" else first
            outcome = manager.handle(status_change_event(event, started_at=started_at))
            # A pipeline nobody registered is rejected: accepted and changes nothing in §5 terms.
            return outcome if outcome is not None else Outcome(Acceptance.NEW)

        yield from replay(events, process)
