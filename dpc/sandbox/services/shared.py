"""What several emulated services need alike: ARNs, each account's deployed templates
(which say what moto's CloudFormation drops), SQS sends (dead letters, on-failure
destinations) and notes on the timeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dpc.sandbox.clock import VirtualClock
from dpc.sandbox.server import SandboxServer
from dpc.sandbox.templates import DeployedStack, deployed_stacks
from dpc.sandbox.timeline import Note, Timeline


@dataclass(frozen=True)
class Arn:
    service: str
    region: str
    account: str
    resource: str

    @classmethod
    def parse(cls, text: str) -> Arn:
        parts = text.split(":", 5)
        return cls(parts[2], parts[3], parts[4], parts[5])


@dataclass
class DeployedStacks:
    """The deployed stacks of each account, read once per deploy: every delivery reads
    them, and a deploy or delete of a stack is the only thing that changes them."""

    server: SandboxServer
    _stacks: dict[str, list[DeployedStack]] = field(default_factory=dict)

    def of(self, account: str) -> list[DeployedStack]:
        if account not in self._stacks:
            cloudformation = self.server.client(account, "cloudformation")
            self._stacks[account] = deployed_stacks(cloudformation, account, self.server.region)
        return self._stacks[account]

    def forget(self, account: str) -> None:
        """A stack of ``account`` was deployed or deleted: read its templates again."""
        self._stacks.pop(account, None)


def note(timeline: Timeline, clock: VirtualClock, text: str, level: str = "info") -> None:
    timeline.add(Note(clock.now, text, level))


def send_to_queue(
    server: SandboxServer, queue_arn: str, body: str, attributes: dict[str, Any] | None = None
) -> None:
    arn = Arn.parse(queue_arn)
    sqs = server.client(arn.account, "sqs")
    url = sqs.get_queue_url(QueueName=arn.resource, QueueOwnerAWSAccountId=arn.account)
    sqs.send_message(QueueUrl=url["QueueUrl"], MessageBody=body, MessageAttributes=attributes or {})
