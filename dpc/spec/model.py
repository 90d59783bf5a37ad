"""Frozen, typed models of a validated pipeline.yaml. Nothing downstream reads raw dicts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from dpc.triggers.deadlines import Expect
from dpc.triggers.model import Condition, Item, ParentRef
from dpc.triggers.periods import PeriodSpec

StepType = Literal["spark", "shell"]
Channel = Literal["SLACK", "EMAIL", "OPSGENIE", "WEBHOOK"]
NotificationType = Literal["FULL_EXECUTION", "ON_FAILURE", "ON_FINISH"]
ClusterNetwork = Literal["private", "public"]


@dataclass(frozen=True)
class Schedule:
    """An EventBridge schedule expression, always in its full form.

    ``expression`` is ``cron(0 3 * * ? *)`` or ``rate(1 hour)`` whichever way the YAML
    spelled it (``hour: 3``, ``cron: ...`` or ``rate: ...``).
    """

    expression: str


@dataclass(frozen=True)
class Trigger:
    schedule: Schedule | None = None
    executions: Condition | None = None


@dataclass(frozen=True)
class InstanceGroup:
    instance_type: str
    count: int = 1


@dataclass(frozen=True)
class Cluster:
    release: str = "emr-7.5.0"
    master: InstanceGroup = InstanceGroup("m5.xlarge", 1)
    core: InstanceGroup = InstanceGroup("m5.xlarge", 2)
    network: ClusterNetwork = "private"
    """``private``: no route to the internet (S3 through the VPC's gateway endpoint)."""


@dataclass(frozen=True)
class Step:
    name: str
    type: StepType
    script: str
    """Path relative to the project folder, as written in pipeline.yaml."""
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class NotificationTarget:
    channel: Channel
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class Notifications:
    type: NotificationType
    targets: tuple[NotificationTarget, ...]


@dataclass(frozen=True)
class Pipeline:
    name: str
    steps: tuple[Step, ...]
    trigger: Trigger = Trigger()
    description: str = ""
    account: str | None = None
    """None when pipeline.yaml leaves it out: the deploy credentials' account is used."""
    cluster: Cluster = Cluster()
    notifications: Notifications | None = None
    timeout: timedelta | None = None
    period: PeriodSpec = field(default_factory=PeriodSpec)
    dependents: frozenset[str] | None = None
    """``dependents.accounts``: the accounts whose pipelines may wait for this one, besides its
    own. None (no ``dependents``): every account of the organization may."""
    expect: Expect | None = None
    """``expect.by``: when a period's data is due (dpc.triggers.deadlines)."""
    tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    project_dir: Path = Path(".")
    source: Path = Path("pipeline.yaml")

    @property
    def ref(self) -> ParentRef:
        if self.account is None:
            raise ValueError(f"pipeline {self.name} has no account; call with_account() first")
        return ParentRef(self.name, self.account)

    def admits(self, account: str) -> bool:
        """May a pipeline of ``account`` wait for this one (the registry's rule, in advance)?"""
        return self.dependents is None or account == self.account or account in self.dependents

    def with_account(self, account: str) -> Pipeline:
        """Fill the account from the deploy credentials, and with it every parent that
        defaulted to "this pipeline's account"."""
        if self.account is not None:
            return self
        condition = self.trigger.executions
        if condition is not None:

            def fill(items: tuple[Item, ...]) -> tuple[Item, ...]:
                return tuple(
                    replace(i, parent=ParentRef(i.parent.name, i.parent.account or account))
                    for i in items
                )

            condition = replace(
                condition, all_of=fill(condition.all_of), any_of=fill(condition.any_of)
            )
        return replace(self, account=account, trigger=replace(self.trigger, executions=condition))
