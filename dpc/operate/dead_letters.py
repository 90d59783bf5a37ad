"""What a message in one of dpc's dead-letter queues holds, read the same way by
``dpc doctor`` (to show it) and ``dpc redrive`` (to replay it).

Every dpc DLQ is named ``dpc-…-dlq`` and receives two kinds of message:

- a Lambda **on-failure destination record** (an asynchronous invocation that failed after
  its retries): the body is JSON with ``requestContext.functionArn``, the original
  ``requestPayload``, ``responseContext`` and, for a function error, ``responsePayload``
  (errorType, errorMessage);
- an EventBridge **rule-target dead letter** (an event the rule could not deliver): the body
  is the event, the message attributes ``RULE_ARN``, ``TARGET_ARN``, ``ERROR_CODE`` and
  ``ERROR_MESSAGE`` say where it was going and why it did not arrive.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from dpc.constants import SFN_STATUS_DETAIL_TYPE, TRIGGER_DETAIL_TYPE

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

DLQ_PREFIX = "dpc-"
DLQ_SUFFIX = "-dlq"

Kind = Literal["lambda-failure", "rule-target", "unknown"]


def is_dead_letter_queue(name: str) -> bool:
    return name.startswith(DLQ_PREFIX) and name.endswith(DLQ_SUFFIX)


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    receipt_handle: str
    kind: Kind
    payload: Any
    """The event or payload that did not get through (a Lambda's request payload, or the
    event a rule could not deliver)."""
    target: str
    """Where it was going: the function ARN, or the rule target's ARN."""
    error: str
    rule_arn: str = ""

    @property
    def summary(self) -> str:
        return describe_payload(self.payload)


def _attribute(message: Mapping[str, Any], name: str) -> str:
    value = message.get("MessageAttributes", {}).get(name, {})
    return str(value.get("StringValue", ""))


def read_dead_letter(message: Mapping[str, Any]) -> DeadLetter:
    """One SQS message (received with ``MessageAttributeNames=["All"]``) as a DeadLetter."""
    try:
        body = json.loads(message.get("Body", ""))
    except ValueError:
        body = message.get("Body", "")
    ids = {"message_id": message["MessageId"], "receipt_handle": message["ReceiptHandle"]}
    target_arn = _attribute(message, "TARGET_ARN")
    if target_arn:
        code, text = _attribute(message, "ERROR_CODE"), _attribute(message, "ERROR_MESSAGE")
        return DeadLetter(
            **ids,
            kind="rule-target",
            payload=body,
            target=target_arn,
            error=f"{code}: {text}" if text else code,
            rule_arn=_attribute(message, "RULE_ARN"),
        )
    context = body.get("requestContext") if isinstance(body, dict) else None
    if isinstance(context, dict) and context.get("functionArn"):
        response = body.get("responsePayload")
        if isinstance(response, dict) and response.get("errorMessage"):
            error = f"{response.get('errorType', 'Error')}: {response['errorMessage']}"
        else:
            function_error = (body.get("responseContext") or {}).get("functionError")
            error = ", ".join(str(e) for e in (context.get("condition"), function_error) if e)
        return DeadLetter(
            **ids,
            kind="lambda-failure",
            payload=body.get("requestPayload"),
            target=str(context["functionArn"]),
            error=error,
        )
    return DeadLetter(**ids, kind="unknown", payload=body, target="", error="")


def describe_payload(payload: Any) -> str:
    """One line naming what a dead letter carries, in dpc's terms."""
    if not isinstance(payload, dict):
        return "a payload that is not a JSON object"
    detail = payload.get("detail")
    detail = detail if isinstance(detail, dict) else {}
    kind = payload.get("detail-type")
    if kind == SFN_STATUS_DETAIL_TYPE:
        machine = str(detail.get("stateMachineArn", "")).rsplit(":", 1)[-1]
        return f"status {detail.get('status')} of {machine} execution {detail.get('name')}"
    if kind == TRIGGER_DETAIL_TYPE:
        return (
            f"trigger {detail.get('trigger_id')} of "
            f"{detail.get('pipeline')}@{detail.get('account')}"
        )
    if kind == "Scheduled Event":
        return f"scheduled event of {payload.get('time')}"
    if kind:
        return f"{kind} event from {payload.get('source')}"
    return "payload " + json.dumps(payload, sort_keys=True)[:120]


def dead_letter_queue_urls(sqs: SQSClient) -> list[str]:
    """The URLs of every dpc dead-letter queue in the account (``dpc-…-dlq``)."""
    urls: list[str] = []
    for page in sqs.get_paginator("list_queues").paginate(QueueNamePrefix=DLQ_PREFIX):
        urls += [u for u in page.get("QueueUrls", []) if is_dead_letter_queue(u.rsplit("/", 1)[-1])]
    return sorted(urls)
