"""The central account's trigger pieces wired together on given boto3 clients: the tables,
the bus, the registry and the trigger manager — for ``dpc simulate --backend dynamodb``, the
tests and the benchmark, which run them on moto. The deployed stack builds the same pieces
from CloudFormation instead; nothing here is used by a deployed Lambda.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dpc.constants import (
    CENTRAL_BUS_NAME,
    ENV_DEPENDENCIES_TABLE,
    ENV_EVENT_BUS_NAME,
    ENV_TRIGGER_STATE_TABLE,
    STATE_MACHINE_PREFIX,
)
from dpc.lambdas.registry import DynamoDbRegistry, Registration
from dpc.lambdas.tables import create_tables
from dpc.lambdas.trigger_manager import Settings, TriggerManager
from dpc.triggers.model import Condition, ParentRef


def state_machine_arn(ref: ParentRef, region: str = "eu-west-1") -> str:
    return f"arn:aws:states:{region}:{ref.account}:stateMachine:{STATE_MACHINE_PREFIX}{ref.name}"


@dataclass
class LocalCentral:
    dynamodb: Any
    events: Any
    settings: Settings
    registry: DynamoDbRegistry

    @classmethod
    def create(cls, dynamodb: Any, events: Any, bus_name: str = CENTRAL_BUS_NAME) -> LocalCentral:
        environment = create_tables(dynamodb)
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
