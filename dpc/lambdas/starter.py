"""The starter Lambda: the one way a pipeline's rules start its state machine (DESIGN §6).

Why a function between the rules and Step Functions: an EventBridge → Step Functions
target can neither name the execution nor compute anything, and dpc needs both. Every run
gets the §6 input ``{"dpc": {"period", "trigger_id", "causes", "rerun_of", "propagate"}}``,
its period computed here for a scheduled run (the period containing tick + offset, §5b) and
taken from the trigger for a triggered one; and every start is named deterministically, so
a duplicated delivery (EventBridge is at least once; the trigger manager may republish a
trigger after a crash) meets Step Functions' refusal of a second start of the same name and
starts nothing (idempotent start).

One starter per pipeline (in its stack), not per account: its role may start that one state
machine and nothing else, and its settings (state machine, period) are plain environment.

Execution names (Step Functions: at most 80 characters of ``[A-Za-z0-9-_]``, unique per
state machine for 90 days):

- triggered: ``t-<trigger id>`` (32 hex digits, a function of child, period and causes);
- scheduled: ``s-<tick as YYYYMMDDTHHMM>`` (one schedule tick, one run).

``dpc run``/``rerun``/``backfill`` (dpc.operate.starts) use :func:`execution_input` and
:func:`start_run` too, with their own name forms (``m-``, ``r-``, ``b-``).

Input (the rule target's input transformer): ``{"kind": "schedule", "time": <event time>}``
or ``{"kind": "trigger", "detail": <Pipeline Trigger detail>}``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from dpc.constants import ENV_PERIOD_OFFSET_SECONDS, ENV_PERIOD_UNIT, ENV_STATE_MACHINE_ARN
from dpc.lambdas.clients import client as build_client
from dpc.triggers.periods import UNITS, Period, PeriodSpec, parse_period
from dpc.triggers.timefmt import parse_time

logger = Logger(service="dpc-starter")

SCHEDULED_PREFIX = "s-"
TRIGGERED_PREFIX = "t-"


@dataclass(frozen=True)
class Settings:
    state_machine_arn: str
    period: PeriodSpec

    @staticmethod
    def from_env(environ: Mapping[str, str] = os.environ) -> Settings:
        unit = environ.get(ENV_PERIOD_UNIT, "day")
        if unit not in UNITS:
            raise ValueError(f"{ENV_PERIOD_UNIT}={unit} is not one of {', '.join(UNITS)}")
        return Settings(
            state_machine_arn=environ[ENV_STATE_MACHINE_ARN],
            period=PeriodSpec.from_json(
                {"unit": unit, "offsetSeconds": int(environ.get(ENV_PERIOD_OFFSET_SECONDS, "0"))}
            ),
        )


def execution_input(
    period: Period,
    *,
    trigger_id: str | None = None,
    causes: Sequence[Mapping[str, Any]] = (),
    rerun_of: str | None = None,
    propagate: bool = True,
    upstream: Sequence[str] = (),
) -> dict[str, Any]:
    """The §6 input of every dpc run; ``upstream`` (a triggered run's lineage, sorted
    ``name@account``) only when there is one, for the trigger manager's cycle guard."""
    dpc_input: dict[str, Any] = {
        "period": str(period),
        "trigger_id": trigger_id,
        "causes": [dict(cause) for cause in causes],
        "rerun_of": rerun_of,
        "propagate": propagate,
    }
    if upstream:
        dpc_input["upstream"] = sorted(str(ref) for ref in upstream)
    return {"dpc": dpc_input}


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives the execution ``name`` of that state machine."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


def start_run(sfn: Any, state_machine_arn: str, name: str, dpc_input: Mapping[str, Any]) -> bool:
    """Start ``name`` once; False when an execution of that name exists already (a repeat:
    nothing is started). Any other error raises, so the caller's retries apply.

    Step Functions refuses a second start of a name with ExecutionAlreadyExists once the
    first has finished (or with another input), but answers a repeat of a *running*
    execution with the same input as a success, starting nothing. So the name is looked up
    first, and both answers count as a repeat. Two deliveries racing between the lookup
    and the start still start one execution; both may then report True."""
    try:
        sfn.describe_execution(executionArn=execution_arn(state_machine_arn, name))
        return False
    except sfn.exceptions.ExecutionDoesNotExist:
        pass
    try:
        sfn.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(dpc_input)
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        return False
    return True


@dataclass(frozen=True)
class StartRequest:
    name: str
    input: dict[str, Any]


def request_of(event: Mapping[str, Any], period: PeriodSpec) -> StartRequest:
    """The start a rule's event asks for (see the module docstring for both shapes)."""
    kind = event.get("kind")
    if kind == "schedule":
        tick = parse_time(str(event["time"]))
        return StartRequest(
            f"{SCHEDULED_PREFIX}{tick:%Y%m%dT%H%M}", execution_input(period.at(tick))
        )
    if kind == "trigger":
        detail = event["detail"]
        trigger_id = str(detail["trigger_id"])
        return StartRequest(
            f"{TRIGGERED_PREFIX}{trigger_id}"[:80],
            execution_input(
                parse_period(str(detail["period"])),
                trigger_id=trigger_id,
                causes=detail.get("causes", ()),
                upstream=detail.get("upstream", ()),
            ),
        )
    raise ValueError(f"starter: unknown event kind {kind!r} (expected schedule or trigger)")


class Starter:
    def __init__(self, settings: Settings, sfn: Any = None) -> None:
        self.settings = settings
        self.sfn = sfn or build_client("stepfunctions")

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        request = request_of(event, self.settings.period)
        started = start_run(self.sfn, self.settings.state_machine_arn, request.name, request.input)
        logger.info(
            "started" if started else "already started: nothing to do",
            extra={"execution": request.name, "period": request.input["dpc"]["period"]},
        )
        return {"execution": request.name, "started": started}


_starter: Starter | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _starter
    if _starter is None:
        _starter = Starter(Settings.from_env())
    return _starter.handle(event)
