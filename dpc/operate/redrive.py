"""``dpc redrive``: replay what dpc's dead-letter queues hold, deleting each message only
after its replay was accepted.

- A Lambda on-failure record is replayed by invoking the function again asynchronously
  (``InvocationType=Event``) with the original request payload.
- An EventBridge rule-target dead letter is delivered again to its target, with the input
  the rule computes for that target (looked up with ListTargetsByRule: Input, InputPath or
  InputTransformer): a Lambda target is invoked asynchronously, an event-bus target gets the
  event with PutEvents. PutEvents refuses sources starting with ``aws.``, so a Step
  Functions status event (the export rule's) is re-sent in the status sweeper's form
  (dpc.lambdas.status_sweeper), which the trigger manager reads the same way.

Replaying twice is harmless, by the product's own idempotency rather than by anything here:
the trigger manager records each (execution, status) once and ignores a second copy, a
trigger id is recorded once, and the starter names each run after its trigger id, so Step
Functions refuses a second start. A message whose replay fails stays in its queue (made
visible again at the end) and is reported; nothing is deleted before AWS accepted it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from dpc.constants import SFN_EVENT_SOURCE
from dpc.lambdas.status_sweeper import status_entry
from dpc.operate.dead_letters import DeadLetter, read_dead_letter
from dpc.operate.rule_input import RuleInputError, target_input

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import (
        ListTargetsByRuleRequestTypeDef,
        PutEventsRequestEntryTypeDef,
    )
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sqs import SQSClient

VISIBILITY_SECONDS = 300
"""Messages being replayed stay hidden this long, so a second `dpc redrive` running at the
same time does not replay them too."""


class ReplayError(RuntimeError):
    """A dead letter that cannot be replayed as it stands (the message says why)."""


@dataclass(frozen=True)
class Replay:
    queue: str
    letter: DeadLetter
    outcome: str
    """``replayed``, ``would replay`` (--dry-run) or ``failed: <why>``."""

    @property
    def ok(self) -> bool:
        return not self.outcome.startswith("failed")


@dataclass(frozen=True)
class Redriver:
    """Replays on the given clients (sqs, lambda, events)."""

    sqs: SQSClient
    lambda_: LambdaClient
    events: EventBridgeClient

    def redrive(self, queue_url: str, *, dry_run: bool = False) -> list[Replay]:
        queue = queue_url.rsplit("/", 1)[-1]
        seen: set[str] = set()
        kept: list[DeadLetter] = []
        replays: list[Replay] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                VisibilityTimeout=VISIBILITY_SECONDS,
                WaitTimeSeconds=1,
            ).get("Messages", [])
            fresh = [m for m in batch if m["MessageId"] not in seen]
            if not fresh:
                break
            for message in fresh:
                seen.add(message["MessageId"])
                letter = read_dead_letter(message)
                if dry_run:
                    replays.append(Replay(queue, letter, "would replay"))
                    kept.append(letter)
                    continue
                try:
                    self.replay(letter)
                except ClientError as error:
                    details = error.response.get("Error", {})
                    reason = f"AWS refused {error.operation_name}: {details.get('Code')}: "
                    replays.append(
                        Replay(queue, letter, f"failed: {reason}{details.get('Message')}")
                    )
                    kept.append(letter)
                    continue
                except (ReplayError, RuleInputError) as error:
                    replays.append(Replay(queue, letter, f"failed: {error}"))
                    kept.append(letter)
                    continue
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=letter.receipt_handle)
                replays.append(Replay(queue, letter, "replayed"))
        for letter in kept:  # back in the queue at once, as it was
            self.sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=letter.receipt_handle, VisibilityTimeout=0
            )
        return replays

    def replay(self, letter: DeadLetter) -> None:
        if letter.kind == "lambda-failure":
            self._invoke(letter.target, json.dumps(letter.payload))
        elif letter.kind == "rule-target":
            self._deliver(letter)
        else:
            raise ReplayError("neither a Lambda failure record nor an EventBridge dead letter")

    def _deliver(self, letter: DeadLetter) -> None:
        event = letter.payload
        if not isinstance(event, dict):
            raise ReplayError("the dead-lettered event is not a JSON object")
        service = letter.target.split(":")[2] if letter.target.count(":") >= 5 else ""
        if service == "lambda":
            target = self._rule_target(letter)
            self._invoke(letter.target, target_input(target, event, letter.rule_arn))
        elif service == "events":
            self._put(letter.target, event)
        else:
            raise ReplayError(f"dpc does not replay to {service or 'unknown'} targets")

    def _rule_target(self, letter: DeadLetter) -> dict[str, Any]:
        """The rule's current entry for the target (its input settings), by RULE_ARN."""
        # arn:aws:events:<region>:<account>:rule/[<bus>/]<name>
        path = letter.rule_arn.split(":", 5)[-1].removeprefix("rule/")
        bus, _, name = path.rpartition("/")
        token: str | None = None
        while True:
            request: ListTargetsByRuleRequestTypeDef = {"Rule": name}
            if bus:
                request["EventBusName"] = bus
            if token:
                request["NextToken"] = token
            page = self.events.list_targets_by_rule(**request)
            for target in page.get("Targets", []):
                if target["Arn"] == letter.target:
                    return dict(target)
            token = page.get("NextToken")
            if not token:
                raise ReplayError(f"rule {letter.rule_arn} no longer targets {letter.target}")

    def _invoke(self, function: str, payload: str) -> None:
        response = self.lambda_.invoke(
            FunctionName=function, InvocationType="Event", Payload=payload.encode()
        )
        if response.get("StatusCode") != 202:
            raise ReplayError(f"Lambda answered {response.get('StatusCode')} for {function}")

    def _put(self, bus_arn: str, event: dict[str, Any]) -> None:
        entry: PutEventsRequestEntryTypeDef
        if event.get("source") == SFN_EVENT_SOURCE:
            # status_entry builds a PutEvents entry, typed dict[str, Any] in dpc.lambdas.
            entry = cast(
                "PutEventsRequestEntryTypeDef", status_entry(event.get("detail") or {}, bus_arn)
            )
        else:
            source, detail_type = event.get("source"), event.get("detail-type")
            # PutEvents needs both: without them boto3 would refuse the whole redrive.
            if not isinstance(source, str) or not source:
                raise ReplayError("the dead-lettered event has no source")
            if not isinstance(detail_type, str) or not detail_type:
                raise ReplayError("the dead-lettered event has no detail-type")
            entry = {
                "Source": source,
                "DetailType": detail_type,
                "Detail": json.dumps(event.get("detail") or {}),
                "Resources": list(event.get("resources") or []),
                "EventBusName": bus_arn,
            }
        response = self.events.put_events(Entries=[entry])
        if response.get("FailedEntryCount"):
            (result,) = response["Entries"]
            raise ReplayError(
                f"PutEvents refused it: {result.get('ErrorCode')}: {result.get('ErrorMessage')}"
            )


def queue_url(sqs: SQSClient, queue: str) -> str:
    """A queue given by name or URL, as its URL."""
    if queue.startswith(("https://", "http://")):
        return queue
    return str(sqs.get_queue_url(QueueName=queue)["QueueUrl"])
