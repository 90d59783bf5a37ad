"""The execution-tracker Lambda: a pipeline's run history → its notifications.

Input. Step Functions sends EventBridge only run-level status changes; step-level events
(a Task state entered, exited, failed) exist only in the execution history, which the state
machine writes to its CloudWatch log group (level ALL). As in the article's alerting flow,
a subscription filter on that log group invokes this Lambda with batches of history events
(the ``awslogs`` payload: gzipped, base64-encoded JSON). Each log message is one history
event: ``{"id", "type", "details", "previous_event_id", "event_timestamp", "execution_arn"}``.

Context. A step's duration needs the time it was entered, a failed run's message needs the
step that failed: facts that may sit in an earlier batch. The tracker reads the execution's
history (``states:GetExecutionHistory``) for that context and merges it with the batch; if
the history cannot be read it still formats every event from what the batch holds.

Trust (issue 12, item 6: every handler checks its input itself). The tracker's input is a
CloudWatch Logs subscription, not an EventBridge event, so "source and detail-type" are, for
it, the ``awslogs`` envelope and each message's execution ARN: anything else invoking it (an
EventBridge event of any other source or detail-type, the Step Functions status change itself, a
payload that does not decode) is logged and ignored, and so is a history event of any state
machine but this pipeline's (``dpc-<pipeline>``), which would otherwise be told as this
pipeline's. Ignored, not raised: the function is invoked asynchronously, and a raise would
be retried twice and parked in its dead-letter queue — alarming an operator about input no
retry can make valid; the warning in the log is the record. The counts returned (for the
logs and the sandbox) then carry ``ignored``: 1 for a refused payload, else the number of
foreign events in the batch.

Late alerts. The central late-alert sweep (dpc.lambdas.late_alerts) tells a pipeline that
it, or a parent it waits for, is late or has recovered with a ``dpc.late-alerts`` event
carried to this account's pipeline bus, where the pipeline's rule invokes this tracker: the
text is published to the topic as it came (Slack was posted centrally), whatever the
pipeline's ``notifications.type`` — lateness is what every type wants to know.

Output. Every event the pipeline's ``notifications.type`` lets through becomes one message
(dpc.lambdas.notifications), published to the pipeline's SNS topic (e-mail, OpsGenie and
webhook subscriptions) and, when the pipeline has Slack targets, posted to the central
Slack API ``/messages`` with a SigV4-signed request. A target that fails is logged and the
others still get the message: an outage of one channel never silences the rest.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from dpc import constants
from dpc.lambdas import sigv4
from dpc.lambdas.clients import client
from dpc.lambdas.notifications import (
    NOTIFICATION_TYPES,
    SNS_SUBJECT_MAX_CHARS,
    Notice,
    NotificationType,
    readable_cause,
    render_text,
    subject,
    wanted,
)
from dpc.lambdas.registration_provider import NOT_CONFIGURED
from dpc.triggers.model import Status

logger = Logger(service="dpc-execution-tracker")

RUN_END_STATUSES: Mapping[str, Status] = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}
STEP_FAILURE_STATUSES: Mapping[str, Status] = {
    "TaskFailed": "FAILED",
    "TaskTimedOut": "TIMED_OUT",
    "TaskStartFailed": "FAILED",
    "TaskSubmitFailed": "FAILED",
}

LATE_ALERT_DETAIL_TYPES = (constants.LATE_DETAIL_TYPE, constants.RECOVERED_DETAIL_TYPE)

_API_DETAILS_KEYS = {
    "TaskStateEntered": "stateEnteredEventDetails",
    "TaskStateExited": "stateExitedEventDetails",
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
    "ExecutionAborted": "executionAbortedEventDetails",
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "TaskStartFailed": "taskStartFailedEventDetails",
    "TaskSubmitFailed": "taskSubmitFailedEventDetails",
}
"""GetExecutionHistory puts each type's details under its own key; the log has ``details``."""


@dataclass(frozen=True)
class HistoryEvent:
    """The parts of one execution-history event the tracker uses, whatever its source."""

    id: int
    type: str
    time: datetime
    execution_arn: str
    state: str | None = None
    """The state's name, on ``*StateEntered`` / ``*StateExited`` events."""
    error: str | None = None
    cause: str | None = None


def event_from_log(message: str) -> HistoryEvent | None:
    """One Step Functions log message → event; None for anything that is not one."""
    try:
        raw = json.loads(message)
        details = raw.get("details") or {}
        return HistoryEvent(
            id=int(raw["id"]),
            type=str(raw["type"]),
            time=datetime.fromtimestamp(int(raw["event_timestamp"]) / 1000, tz=UTC),
            execution_arn=str(raw["execution_arn"]),
            state=details.get("name"),
            error=details.get("error"),
            cause=readable_cause(details.get("cause")),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def event_from_api(execution_arn: str, raw: Mapping[str, Any]) -> HistoryEvent:
    """One ``GetExecutionHistory`` event → event."""
    details: Mapping[str, Any] = raw.get(_API_DETAILS_KEYS.get(raw["type"], ""), {})
    time = raw["timestamp"]
    return HistoryEvent(
        id=int(raw["id"]),
        type=str(raw["type"]),
        time=time.astimezone(UTC) if time.tzinfo else time.replace(tzinfo=UTC),
        execution_arn=execution_arn,
        state=details.get("name"),
        error=details.get("error"),
        cause=readable_cause(details.get("cause")),
    )


def decode_subscription(event: Mapping[str, Any]) -> list[HistoryEvent]:
    """The ``awslogs`` payload of a subscription filter → its history events, in log order.

    CONTROL_MESSAGE payloads (CloudWatch checking the destination is reachable) hold none.
    """
    payload = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    if payload.get("messageType") != "DATA_MESSAGE":
        return []
    parsed = (event_from_log(e["message"]) for e in payload.get("logEvents", []))
    return [e for e in parsed if e is not None]


def encode_subscription(log_group: str, messages: Iterable[str]) -> dict[str, Any]:
    """The inverse of ``decode_subscription``: what CloudWatch Logs sends for these messages.

    The sandbox delivers its state machines' history to the tracker with it, as the
    subscription filter does on AWS.
    """
    payload = {
        "messageType": "DATA_MESSAGE",
        "logGroup": log_group,
        "logStream": "states",
        "subscriptionFilters": ["dpc-execution-tracker"],
        "logEvents": [{"id": str(i), "timestamp": 0, "message": m} for i, m in enumerate(messages)],
    }
    data = base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()
    return {"awslogs": {"data": data}}


def notices(
    new: Sequence[HistoryEvent],
    context: Sequence[HistoryEvent],
    *,
    pipeline: str,
    step_states: Mapping[str, str],
) -> list[Notice]:
    """What happened in ``new`` (events of ONE execution), told with ``context`` (its history).

    ``step_states`` maps the state names that are the pipeline's steps to the steps' names;
    the states dpc adds around them (create and terminate the cluster) are told only through
    the run's end. An empty mapping means every Task state is a step, under its state name
    (state machines built by hand).
    """
    history = sorted({e.id: e for e in [*context, *new]}.values(), key=lambda e: e.id)

    def is_step(state: str | None) -> bool:
        return state is not None and (not step_states or state in step_states)

    def step(state: str | None) -> str | None:
        return step_states.get(state, state) if state is not None else None

    def before(event: HistoryEvent) -> list[HistoryEvent]:
        return [e for e in history if e.id < event.id]

    def entered(event: HistoryEvent) -> HistoryEvent | None:
        """The Task state ``event`` belongs to: the newest one entered before it."""
        return next((e for e in reversed(before(event)) if e.type == "TaskStateEntered"), None)

    result: list[Notice] = []
    for event in sorted({e.id: e for e in new}.values(), key=lambda e: e.id):
        _, _, _, region, account, *_ = event.execution_arn.split(":")
        base = Notice(
            pipeline=pipeline,
            account=account,
            region=region,
            execution_arn=event.execution_arn,
            status="RUNNING",
            time=event.time,
        )
        if event.type == "ExecutionStarted":
            result.append(base)
        elif event.type == "TaskStateEntered" and is_step(event.state):
            result.append(replace(base, step=step(event.state)))
        elif event.type == "TaskStateExited" and is_step(event.state):
            start = entered(event)
            failed = start is not None and any(
                e.type in STEP_FAILURE_STATUSES for e in before(event) if e.id > start.id
            )
            if not failed:  # a failed step was told when it failed
                result.append(
                    replace(
                        base,
                        status="SUCCEEDED",
                        step=step(event.state),
                        duration=event.time - start.time if start else None,
                    )
                )
        elif event.type in STEP_FAILURE_STATUSES:
            start = entered(event)
            if start is not None and is_step(start.state):
                result.append(
                    replace(
                        base,
                        status=STEP_FAILURE_STATUSES[event.type],
                        step=step(start.state),
                        duration=event.time - start.time,
                        error=event.error,
                        cause=event.cause,
                    )
                )
        elif event.type in RUN_END_STATUSES:
            result.append(_run_end(base, event, before(event), step))
    return result


def _run_end(
    base: Notice,
    event: HistoryEvent,
    earlier: Sequence[HistoryEvent],
    step: Callable[[str | None], str | None],
) -> Notice:
    status = RUN_END_STATUSES[event.type]
    started = next((e for e in earlier if e.type == "ExecutionStarted"), None)
    notice = replace(
        base,
        status=status,
        duration=event.time - started.time if started else None,
        error=event.error,
        cause=event.cause,
    )
    if status == "SUCCEEDED":
        return notice
    failure = next((e for e in reversed(earlier) if e.type in STEP_FAILURE_STATUSES), None)
    if failure is None:
        # Timed out or aborted while a state ran: that state is where the run stopped.
        last = next((e for e in reversed(earlier) if e.type.startswith("TaskState")), None)
        running = last.state if last is not None and last.type == "TaskStateEntered" else None
        return replace(notice, failed_step=step(running))
    failed_state = next(
        (e.state for e in reversed(earlier) if e.type == "TaskStateEntered" and e.id < failure.id),
        None,
    )
    # The run's own error is often the generic one of the Fail state after the cluster was
    # cleaned up; the step's error is the one worth reading.
    return replace(
        notice,
        failed_step=step(failed_state),
        error=failure.error or notice.error,
        cause=failure.cause or notice.cause,
    )


class Publisher(Protocol):
    """What the tracker needs of SNS: ``publish`` (boto3's client satisfies it)."""

    def publish(self, **kwargs: Any) -> Any: ...


SlackSender = Callable[[Mapping[str, Any]], None]
"""Sends one message to the central Slack API; raises on failure."""

HistorySource = Callable[[str], Sequence[HistoryEvent]]
"""Execution ARN → its history so far (may raise: the tracker then uses the batch alone)."""


@dataclass(frozen=True)
class Settings:
    """The pipeline this tracker serves, from its Lambda environment (read once)."""

    pipeline: str
    notification_type: NotificationType
    step_states: Mapping[str, str]
    """State name → step name (see ``notices``)."""
    topic_arn: str | None
    slack_api_url: str | None
    """None when the pipeline has no Slack targets, or when they cannot be reached."""
    slack_unconfigured: bool = False
    """The pipeline has Slack targets but its account was set up without a Slack API URL
    (the stacks then pass ``none``): the targets are skipped, not failed on every message."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        kind = env.get(constants.ENV_NOTIFICATION_TYPE, "ON_FAILURE")
        if kind not in NOTIFICATION_TYPES:
            raise ValueError(
                f"{constants.ENV_NOTIFICATION_TYPE}={kind!r} is not one of "
                f"{', '.join(NOTIFICATION_TYPES)}"
            )
        slack_api_url = env.get(constants.ENV_SLACK_API_URL)
        slack_configured = slack_api_url not in (None, "", NOT_CONFIGURED)
        return cls(
            pipeline=env[constants.ENV_PIPELINE_NAME],
            notification_type=kind,
            step_states=_step_states(env.get(constants.ENV_PIPELINE_STEPS, "{}")),
            topic_arn=env.get(constants.ENV_NOTIFICATION_TOPIC_ARN) or None,
            slack_api_url=slack_api_url.rstrip("/") if slack_api_url and slack_configured else None,
            slack_unconfigured=slack_api_url is not None and not slack_configured,
        )


def _step_states(value: str) -> dict[str, str]:
    """``{"Step aggregate": "aggregate", ...}``; a list names states that are their own steps."""
    parsed = json.loads(value)
    return {s: s for s in parsed} if isinstance(parsed, list) else dict(parsed)


@dataclass(frozen=True)
class Tracker:
    settings: Settings
    sns: Publisher | None
    send_to_slack: SlackSender | None
    history: HistorySource

    def handle(self, event: Mapping[str, Any]) -> dict[str, int]:
        """One subscription batch → notifications; returns counts (for logs and the sandbox)."""
        if isinstance(event, Mapping) and event.get("source") == constants.LATE_ALERT_SOURCE:
            return self.late_alert(event)
        try:
            batch = decode_subscription(event)
        except (KeyError, TypeError, AttributeError, ValueError, OSError, EOFError):
            logger.warning(
                "ignored: not a CloudWatch Logs subscription payload",
                extra={
                    "source": event.get("source") if isinstance(event, Mapping) else None,
                    "detail_type": event.get("detail-type") if isinstance(event, Mapping) else None,
                },
            )
            return {"events": 0, "notices": 0, "failed_deliveries": 0, "ignored": 1}
        own_machine = constants.STATE_MACHINE_PREFIX + self.settings.pipeline
        foreign = {e.execution_arn for e in batch if _state_machine(e.execution_arn) != own_machine}
        if foreign:
            logger.warning(
                "ignored: history of another state machine than this pipeline's",
                extra={"pipeline": self.settings.pipeline, "executions": sorted(foreign)[:10]},
            )
        by_execution: dict[str, list[HistoryEvent]] = {}
        for history_event in batch:
            if history_event.execution_arn not in foreign:
                by_execution.setdefault(history_event.execution_arn, []).append(history_event)
        counts = {"events": len(batch), "notices": 0, "failed_deliveries": 0}
        ignored = sum(1 for e in batch if e.execution_arn in foreign)
        if ignored:
            counts["ignored"] = ignored
        for execution_arn, new in by_execution.items():
            context = self._context(execution_arn) if self._needs_context(new) else []
            for notice in notices(
                new,
                context,
                pipeline=self.settings.pipeline,
                step_states=self.settings.step_states,
            ):
                if wanted(self.settings.notification_type, notice):
                    counts["notices"] += 1
                    counts["failed_deliveries"] += self._deliver(notice)
        logger.info("batch processed", extra=counts)
        return counts

    def late_alert(self, event: Mapping[str, Any]) -> dict[str, int]:
        """A late or recovered alert from the central sweep → the topic (e-mail, OpsGenie,
        webhooks). A failed publish raises: EventBridge invoked this asynchronously, so it is
        retried and then kept in the dead-letter queue, not lost."""
        detail = event.get("detail")
        if (
            event.get("detail-type") not in LATE_ALERT_DETAIL_TYPES
            or not isinstance(detail, Mapping)
            or detail.get("pipeline") != self.settings.pipeline
            or not isinstance(detail.get("text"), str)
        ):
            logger.warning(
                "ignored: not a late alert of this pipeline",
                extra={"pipeline": self.settings.pipeline, "detail_type": event.get("detail-type")},
            )
            return {"events": 1, "notices": 0, "failed_deliveries": 0, "ignored": 1}
        if self.sns is None or not self.settings.topic_arn:
            return {"events": 1, "notices": 0, "failed_deliveries": 0}
        text = str(detail["text"])
        headline = text.splitlines()[0] if text else LATE_ALERT_DETAIL_TYPES[0]
        self.sns.publish(
            TopicArn=self.settings.topic_arn,
            Subject=headline.encode("ascii", "replace").decode("ascii")[:SNS_SUBJECT_MAX_CHARS],
            Message=text,
            MessageAttributes={
                "pipeline": {"DataType": "String", "StringValue": self.settings.pipeline},
                "status": {"DataType": "String", "StringValue": str(event["detail-type"])},
            },
        )
        return {"events": 1, "notices": 1, "failed_deliveries": 0}

    def _needs_context(self, new: Sequence[HistoryEvent]) -> bool:
        """Read the history only for batches that end something the pipeline is told about:
        one GetExecutionHistory per step end (FULL_EXECUTION) or per run, not per batch."""
        types = {e.type for e in new}
        if self.settings.notification_type != "FULL_EXECUTION":
            return not types.isdisjoint(RUN_END_STATUSES)
        return not types.isdisjoint({"TaskStateExited", *STEP_FAILURE_STATUSES, *RUN_END_STATUSES})

    def _context(self, execution_arn: str) -> Sequence[HistoryEvent]:
        try:
            return self.history(execution_arn)
        except Exception as error:  # any failure here only costs durations and step names
            logger.warning(
                "execution history unavailable; formatting from this batch alone",
                extra={"execution_arn": execution_arn, "error": str(error)},
            )
            return []

    def _deliver(self, notice: Notice) -> int:
        """Send ``notice`` to every target; return how many targets failed."""
        failures = 0
        text = render_text(notice)
        if self.sns is not None and self.settings.topic_arn:
            try:
                self.sns.publish(
                    TopicArn=self.settings.topic_arn,
                    Subject=subject(notice),
                    Message=text,
                    MessageAttributes={
                        "pipeline": {"DataType": "String", "StringValue": notice.pipeline},
                        "status": {"DataType": "String", "StringValue": notice.status},
                    },
                )
            except Exception as error:
                failures += 1
                logger.error(
                    "publishing to the notification topic failed",
                    extra={"topic_arn": self.settings.topic_arn, "error": str(error)},
                )
        if self.send_to_slack is not None:
            try:
                self.send_to_slack(
                    {
                        "pipeline": notice.pipeline,
                        "execution": notice.execution_arn,
                        "status": notice.status,
                        "text": text,
                    }
                )
            except Exception as error:
                failures += 1
                logger.error("posting to the Slack API failed", extra={"error": str(error)})
        return failures


def _state_machine(execution_arn: str) -> str | None:
    """``dpc-searches`` of ``arn:aws:states:<region>:<account>:execution:dpc-searches:<run>``."""
    parts = execution_arn.split(":")
    if len(parts) != 8 or parts[0] != "arn" or parts[2] != "states" or parts[5] != "execution":
        return None
    return parts[6]


def history_from_states(client: Any) -> HistorySource:
    """The execution's history through ``GetExecutionHistory`` (all pages, oldest first)."""

    def read(execution_arn: str) -> Sequence[HistoryEvent]:
        paginator = client.get_paginator("get_execution_history")
        return [
            event_from_api(execution_arn, raw)
            for page in paginator.paginate(executionArn=execution_arn, includeExecutionData=False)
            for raw in page["events"]
        ]

    return read


def slack_api_sender(api_url: str) -> SlackSender:
    def send(message: Mapping[str, Any]) -> None:
        sigv4.call("POST", f"{api_url}/messages", message)

    return send


@cache
def _tracker() -> Tracker:
    """Composition root: settings and clients built once per container."""
    settings = Settings.from_env(os.environ)
    if settings.slack_unconfigured:
        logger.warning(
            "Slack is not configured for this account (setup-user-account was run without "
            "--slack-api-url): this pipeline's Slack targets are skipped",
            extra={"pipeline": settings.pipeline},
        )
    return Tracker(
        settings=settings,
        sns=client("sns") if settings.topic_arn else None,
        send_to_slack=slack_api_sender(settings.slack_api_url) if settings.slack_api_url else None,
        history=history_from_states(client("stepfunctions")),
    )


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    return _tracker().handle(event)
