"""The trigger-manager Lambda: a pipeline run changed status somewhere in the organization;
log it, and start every child whose condition now holds — exactly once (DESIGN §5, §6).

Input: the native ``Step Functions Execution Status Change`` event, forwarded unchanged from
the pipeline's account to the central bus (``detail``: executionArn, stateMachineArn, name,
status, startDate, stopDate (epoch ms), input; top-level ``account`` set by EventBridge),
or the same event re-sent by the account's status sweeper (source ``dpc.status-sweep``,
dpc.lambdas.status_sweeper); a second copy of a status is recorded once and ignored.

Trust: the pipeline is named by its state machine (``dpc-<name>``) and the owning account by
the event's ``account`` field, which EventBridge sets and a sender cannot forge. The event is
rejected unless that account registered that pipeline with that state machine.

Fan-out: a parent with more than ``FANOUT_CHUNK_SIZE`` children has the first chunk
evaluated here and every further chunk handed to an asynchronous invocation of this same
function (``{"dpc-fanout": {event, children, now}}``), so an invocation's work is bounded
whatever the fan-out (issue 11: 10,000 children). Lambda, not a queue, because it already
gives what the chunk needs: an accepted invocation is durable, retried twice and then parked
in the function's on-failure queue, which ``dpc redrive`` replays; a chunk evaluated twice
changes nothing (TriggerEngine.evaluate). Only principals allowed to invoke the function send
such a payload: the rule's events always have EventBridge's envelope, never that key.

Settings come from the environment once (table names, ``EVENT_BUS_NAME``, and Lambda's own
``AWS_LAMBDA_FUNCTION_NAME``); a failure raises, so EventBridge/Lambda retries the event and
the stores' idempotency makes the retry safe.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, cast

from aws_lambda_powertools import Logger

from dpc.constants import (
    ENV_DEPENDENCIES_TABLE,
    ENV_EVENT_BUS_NAME,
    ENV_RUN_LOG_TABLE,
    ENV_TRIGGER_STATE_TABLE,
    SFN_EVENT_SOURCE,
    SFN_STATUS_DETAIL_TYPE,
    STATE_MACHINE_PREFIX,
    STATUS_SWEEP_SOURCE,
)
from dpc.lambdas import arns
from dpc.lambdas.clients import client as build_client
from dpc.lambdas.notifications import (
    FAILURE_STATUSES,
    MAX_CAUSE_CHARS,
    failed_step_of,
    readable_cause,
)
from dpc.lambdas.publisher import EventBridgePublisher
from dpc.lambdas.registry import DynamoDbRegistry
from dpc.lambdas.store_dynamodb import DynamoDbStore, parse_ref, ref_key
from dpc.triggers.engine import Children, Evaluated, Outcome, Publisher, TriggerEngine
from dpc.triggers.events import RunEvent, RunRecord, parse_upstream
from dpc.triggers.model import STATUSES, TERMINAL_STATUSES, ParentRef, Status
from dpc.triggers.periods import Period, PeriodError, parse_period, period_containing
from dpc.triggers.timefmt import format_time, parse_time

logger = Logger(service="dpc-trigger-manager")


@dataclass(frozen=True)
class Settings:
    run_log_table: str
    dependencies_table: str
    trigger_state_table: str
    event_bus_name: str
    function_name: str | None = None
    """This function (Lambda sets ``AWS_LAMBDA_FUNCTION_NAME``), which large fan-outs invoke;
    None outside Lambda (``dpc simulate``, tests): every child is evaluated in one call."""

    @staticmethod
    def from_env(environ: Mapping[str, str] = os.environ) -> Settings:
        return Settings(
            run_log_table=environ[ENV_RUN_LOG_TABLE],
            dependencies_table=environ[ENV_DEPENDENCIES_TABLE],
            trigger_state_table=environ[ENV_TRIGGER_STATE_TABLE],
            event_bus_name=environ[ENV_EVENT_BUS_NAME],
            function_name=environ.get("AWS_LAMBDA_FUNCTION_NAME") or None,
        )


FANOUT_KEY = "dpc-fanout"
"""The payload key of a fan-out chunk (see the module docstring)."""


@dataclass(frozen=True)
class SelfInvokingHandOff:
    """Hands a chunk of children to an asynchronous invocation of this function."""

    function_name: str
    client: Any

    def __call__(self, event: RunEvent, children: Children, now: datetime) -> None:
        payload = {
            FANOUT_KEY: {
                "event": event.to_json(),
                "children": [ref_key(child) for child, _ in children],
                "now": format_time(now),
            }
        }
        # Raises unless Lambda accepted (202) the invocation: the parent event then fails
        # and is retried, handing the chunks over again.
        self.client.invoke(
            FunctionName=self.function_name,
            InvocationType="Event",
            Payload=json.dumps(payload).encode(),
        )


@dataclass(frozen=True)
class StatusChange:
    """What the trigger manager reads from a Step Functions status-change event."""

    event: RunEvent
    state_machine_arn: str
    source_account: str
    record: RunRecord


def _epoch_ms(value: Any) -> datetime | None:
    return None if value in (None, "") else datetime.fromtimestamp(int(value) / 1000, UTC)


def parse_status_change(event: Mapping[str, Any]) -> StatusChange | None:
    """None for anything that is not a dpc state machine's status change."""
    # The rule matches these too; checked here as well so a mis-edited rule, or another
    # account's event with a look-alike detail, is never taken for a status change.
    if event.get("detail-type") != SFN_STATUS_DETAIL_TYPE or event.get("source") not in (
        SFN_EVENT_SOURCE,
        STATUS_SWEEP_SOURCE,
    ):
        return None
    detail = event.get("detail") or {}
    arn = str(detail.get("stateMachineArn", ""))
    parts = arn.split(":")
    if (
        len(parts) != 7
        or parts[5] != "stateMachine"
        or not parts[6].startswith(STATE_MACHINE_PREFIX)
    ):
        return None
    status = detail.get("status")
    if status not in STATUSES:
        return None
    started, stopped = _epoch_ms(detail.get("startDate")), _epoch_ms(detail.get("stopDate"))
    if status in TERMINAL_STATUSES and stopped is not None:
        time = stopped
    elif started is not None:
        time = started
    else:
        time = datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
    pipeline = ParentRef(parts[6].removeprefix(STATE_MACHINE_PREFIX), parts[4])
    run_input = detail.get("input")
    period, propagate = run_period(run_input)
    return StatusChange(
        event=RunEvent(
            time,
            pipeline,
            cast(Status, status),
            str(detail.get("name", "")),
            period,
            propagate,
            run_upstream(run_input),
        ),
        state_machine_arn=arn,
        source_account=str(event.get("account", "")),
        record=RunRecord(
            execution_arn=str(detail.get("executionArn", "")),
            started_at=started,
            stopped_at=stopped,
            input=run_input if isinstance(run_input, str) else json.dumps(run_input),
            **_failure(status, detail),
        ),
    )


def _failure(status: str, detail: Mapping[str, Any]) -> dict[str, str | None]:
    """The failed step and the error of a run that did not succeed, from the status event
    (the state machine fails with the caught step's error and cause), for the run log."""
    if status not in FAILURE_STATUSES:
        return {}
    cause = detail.get("cause") if isinstance(detail.get("cause"), str) else None
    error = detail.get("error") if isinstance(detail.get("error"), str) else None
    text = readable_cause(cause) or error
    return {
        "failed_step": failed_step_of(cause),
        "error": text[:MAX_CAUSE_CHARS] if text else None,
    }


def run_period(run_input: Any) -> tuple[Period | None, bool]:
    """The period a run processes and whether its children may start on it, from the §6
    input ``{"dpc": {"period": P, "propagate": bool, ...}}``. None for a run without a
    period (started by hand): the manager then takes the period of the pipeline's unit
    containing its start (DESIGN §5b), which only the registration knows."""
    try:
        parsed = json.loads(run_input) if isinstance(run_input, str) else run_input
    except ValueError:
        parsed = None
    dpc_input = parsed.get("dpc") if isinstance(parsed, dict) else None
    if not isinstance(dpc_input, dict):
        return None, True
    propagate = dpc_input.get("propagate") is not False
    text = dpc_input.get("period")
    if not text:
        return None, propagate
    try:
        return parse_period(str(text)), propagate
    except PeriodError:
        logger.warning("run input has no valid dpc.period", extra={"input": dpc_input})
        return None, propagate


def run_upstream(run_input: Any) -> frozenset[ParentRef]:
    """The pipelines upstream of a triggered run (``dpc.upstream`` of its §6 input); none for
    a run without it, or with a malformed one (logged: the guard then sees no lineage)."""
    try:
        parsed = json.loads(run_input) if isinstance(run_input, str) else run_input
    except ValueError:
        return frozenset()
    dpc_input = parsed.get("dpc") if isinstance(parsed, dict) else None
    if not isinstance(dpc_input, dict) or "upstream" not in dpc_input:
        return frozenset()
    try:
        return parse_upstream(dpc_input["upstream"])
    except ValueError:
        logger.warning("run input has no valid dpc.upstream", extra={"input": dpc_input})
        return frozenset()


def status_change_event(
    run: RunEvent, started_at: datetime | None = None, region: str = "eu-west-1"
) -> dict[str, Any]:
    """The native event Step Functions would emit for ``run`` (simulate, tests, sandbox); the
    run's period and propagate flag travel in its input, as the starter writes it."""
    account = run.pipeline.account
    started_at = started_at or run.time
    terminal = run.status in TERMINAL_STATUSES
    execution_arn = arns.execution_arn(region, account, run.pipeline.name, run.execution)
    return {
        "version": "0",
        "id": f"{run.pipeline}/{run.key}",
        "detail-type": SFN_STATUS_DETAIL_TYPE,
        "source": SFN_EVENT_SOURCE,
        "account": account,
        "time": run.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [execution_arn],
        "detail": {
            "executionArn": execution_arn,
            "stateMachineArn": arns.state_machine_arn(region, account, run.pipeline.name),
            "name": run.execution,
            "status": run.status,
            "startDate": int(started_at.timestamp() * 1000),
            "stopDate": int(run.time.timestamp() * 1000) if terminal else None,
            "input": json.dumps(
                {
                    "dpc": {
                        **({"period": str(run.period)} if run.period is not None else {}),
                        "propagate": run.propagate,
                        **(
                            {"upstream": sorted(str(r) for r in run.upstream)}
                            if run.upstream
                            else {}
                        ),
                    }
                }
            ),
            "output": None,
        },
    }


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TriggerManager:
    """The handler's logic with its collaborators injected (tests, sandbox, ``dpc simulate``)."""

    def __init__(
        self,
        settings: Settings,
        dynamodb: Any = None,
        events: Any = None,
        publisher: Publisher | None = None,
        clock: Callable[[], datetime] = _utc_now,
        wall_clock: Callable[[], datetime] = _utc_now,
        lambda_client: Any = None,
    ) -> None:
        dynamodb = dynamodb or build_client("dynamodb")
        self.store = DynamoDbStore(settings.run_log_table, settings.trigger_state_table, dynamodb)
        self.registry = DynamoDbRegistry(settings.dependencies_table, dynamodb)
        if publisher is None:
            publisher = EventBridgePublisher(
                settings.event_bus_name, events or build_client("events")
            )
        hand_off = None
        if settings.function_name is not None:
            hand_off = SelfInvokingHandOff(
                settings.function_name, lambda_client or build_client("lambda")
            )
        self.engine = TriggerEngine(self.store, publisher, wall_clock=wall_clock, hand_off=hand_off)
        self.clock = clock

    def handle_chunk(self, chunk: Mapping[str, Any]) -> Evaluated:
        """A fan-out chunk: the accepted event, applied to the children named, with their
        conditions as registered now (a child deregistered since is skipped)."""
        run = RunEvent.from_json(chunk["event"])
        named = [parse_ref(str(text)) for text in chunk["children"]]
        children = self.registry.conditions_of(run.pipeline, named)
        evaluated = self.engine.evaluate(run, children, parse_time(str(chunk["now"])))
        logger.info(
            "processed fan-out chunk",
            extra={
                "pipeline": str(run.pipeline),
                "execution": run.execution,
                "status": run.status,
                "period": None if run.period is None else str(run.period),
                "children": len(children),
                "triggers": [t.trigger_id for t in evaluated.published],
            },
        )
        return evaluated

    def handle(self, event: Mapping[str, Any]) -> Outcome | None:
        change = parse_status_change(event)
        if change is None:
            logger.info("ignored: not a dpc status change", extra={"event_id": event.get("id")})
            return None
        run = change.event
        registration, children = self.registry.lookup(run.pipeline)
        if (
            registration is None
            or registration.state_machine_arn != change.state_machine_arn
            or registration.pipeline.account != change.source_account
        ):
            logger.warning(
                "rejected: not a pipeline registered by the sending account",
                extra={
                    "pipeline": str(run.pipeline),
                    "state_machine": change.state_machine_arn,
                    "sender_account": change.source_account,
                },
            )
            return None
        if run.period is None:
            unit = registration.period.unit if registration.period is not None else "day"
            started = change.record.started_at or run.time
            run = replace(run, period=period_containing(unit, started))
        outcome = self.engine.process(
            run, children, max(run.time, self.clock()), record=change.record
        )
        logger.info(
            "processed",
            extra={
                "pipeline": str(run.pipeline),
                "execution": run.execution,
                "status": run.status,
                "period": None if run.period is None else str(run.period),
                "acceptance": outcome.acceptance.value,
                "children": len(children),
                "handed_off": outcome.handed_off,
                "triggers": [t.trigger_id for t in outcome.published],
            },
        )
        return outcome


_manager: TriggerManager | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _manager
    if _manager is None:
        _manager = TriggerManager(Settings.from_env())
    if FANOUT_KEY in event:
        evaluated = _manager.handle_chunk(event[FANOUT_KEY])
        return {"accepted": "chunk", "triggers": [t.trigger_id for t in evaluated.published]}
    outcome = _manager.handle(event)
    if outcome is None:
        return {"accepted": False, "triggers": []}
    return {
        "accepted": outcome.acceptance.value,
        "triggers": [t.trigger_id for t in outcome.published],
    }
