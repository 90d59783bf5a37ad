"""``dpc doctor``: what is stuck in the account the credentials point at.

- **Dead letters**: every dpc dead-letter queue (``dpc-…-dlq``) holding messages, with how
  many and a sample of what they hold (which event or payload, going where, which error).
  Sampling receives with a visibility timeout of 0, so the messages stay where they are.
- **Alarms**: dpc's CloudWatch alarms (names start with ``dpc-``) in state ALARM.
- **Central account** (``--central``): the checks only the central account has, in
  :func:`central_checks`.

Nothing is changed; ``dpc redrive`` replays dead letters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

from dpc.operate.dead_letters import dead_letter_queue_urls, read_dead_letter

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

ALARM_PREFIX = "dpc-"
SAMPLE_SIZE = 3
"""Messages shown per queue (ReceiveMessage returns at most 10)."""


@dataclass(frozen=True)
class Sample:
    kind: str
    what: str
    target: str
    error: str


@dataclass(frozen=True)
class StuckQueue:
    name: str
    url: str
    messages: int
    in_flight: int
    """Received by someone (e.g. a redrive in progress) and not yet deleted."""
    samples: tuple[Sample, ...]


@dataclass(frozen=True)
class Alarm:
    name: str
    reason: str
    since: str


@dataclass(frozen=True)
class Finding:
    """One line of a central-only check: what is stuck, and how to unstick it."""

    check: str
    what: str
    hint: str = ""


@dataclass(frozen=True)
class Diagnosis:
    account: str
    queues: tuple[StuckQueue, ...]
    alarms: tuple[Alarm, ...]
    central: tuple[Finding, ...] = field(default=())

    @property
    def stuck(self) -> bool:
        return bool(self.queues or self.alarms or self.central)

    def to_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "stuck": self.stuck,
            "deadLetterQueues": [
                {
                    "name": q.name,
                    "url": q.url,
                    "messages": q.messages,
                    "inFlight": q.in_flight,
                    "samples": [
                        {"kind": s.kind, "what": s.what, "target": s.target, "error": s.error}
                        for s in q.samples
                    ],
                }
                for q in self.queues
            ],
            "alarms": [{"name": a.name, "reason": a.reason, "since": a.since} for a in self.alarms],
            "central": [{"check": f.check, "what": f.what, "hint": f.hint} for f in self.central],
        }


def stuck_queues(sqs: SQSClient, sample_size: int = SAMPLE_SIZE) -> list[StuckQueue]:
    found = []
    for url in dead_letter_queue_urls(sqs):
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        messages = int(attributes.get("ApproximateNumberOfMessages", 0))
        in_flight = int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0))
        if not messages and not in_flight:
            continue
        received = (
            sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(sample_size, 10),
                MessageAttributeNames=["All"],
                VisibilityTimeout=0,
            ).get("Messages", [])
            if messages
            else []
        )
        samples = []
        for message in received:
            letter = read_dead_letter(message)
            samples.append(Sample(letter.kind, letter.summary, letter.target, letter.error))
        found.append(StuckQueue(url.rsplit("/", 1)[-1], url, messages, in_flight, tuple(samples)))
    return found


def alarms_in_alarm(cloudwatch: CloudWatchClient) -> list[Alarm]:
    alarms = []
    pages = cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=ALARM_PREFIX,
        StateValue="ALARM",
        AlarmTypes=["MetricAlarm", "CompositeAlarm"],
    )
    for page in pages:
        for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
            if alarm.get("StateValue") != "ALARM":  # checked again: not every API honours both
                continue
            since = alarm.get("StateUpdatedTimestamp")
            alarms.append(
                Alarm(
                    alarm["AlarmName"],
                    str(alarm.get("StateReason", "")),
                    since.isoformat() if since is not None else "",
                )
            )
    return sorted(alarms, key=lambda a: a.name)


CentralCheck = Callable[[], Sequence[Finding]]


class CentralClients(Protocol):
    """Service name → boto3 client of the central account (``AwsOptions.client``)."""

    @overload
    def __call__(self, service: Literal["cloudformation"]) -> CloudFormationClient: ...
    @overload
    def __call__(self, service: Literal["dynamodb"]) -> DynamoDBClient: ...


def central_checks(client: CentralClients) -> list[CentralCheck]:
    """The central account's own checks, run with ``--central`` on clients from ``client``
    (service name → boto3 client): the triggers recorded but still unpublished after the
    outbox lease (what the outbox sweep has not caught up with)."""

    def unpublished() -> list[Finding]:
        from datetime import UTC, datetime

        from dpc.lambdas.tables import TRIGGER_STATE
        from dpc.observe.aws import table_name
        from dpc.observe.outbox import unpublished_triggers

        table = table_name(TRIGGER_STATE, client("cloudformation"))
        return [
            Finding(
                "unpublished trigger",
                f"{entry.trigger.trigger_id} → {entry.child} "
                f"(recorded {entry.recorded_at:%Y-%m-%dT%H:%M:%SZ})",
                "the outbox sweep publishes it within its schedule; if it stays, check the "
                "sweeper's dead-letter queue",
            )
            for entry in unpublished_triggers(
                client("dynamodb"), table_name=table, now=datetime.now(UTC)
            )
        ]

    return [unpublished]


def diagnose(
    sqs: SQSClient, cloudwatch: CloudWatchClient, account: str, checks: Sequence[CentralCheck] = ()
) -> Diagnosis:
    central = tuple(finding for check in checks for finding in check())
    return Diagnosis(account, tuple(stuck_queues(sqs)), tuple(alarms_in_alarm(cloudwatch)), central)
