"""`dpc runs`, `dpc why` and `dpc status` read inside the sandbox, at a moment of the
virtual clock.

The demo closes with what a user would see had they asked at that moment: the run log at the
end, why pipeline-x had not run on day 2 before searches was rerun, and the organization's
day 2 (`dpc status --period`) at the end. All are read
through the same `Central` the CLI uses, with the central account's clients, from the tables
the deployed central stack created.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dpc.observe.central import Central, Explanation
from dpc.observe.runlog import Run
from dpc.observe.status import PipelineStatus
from dpc.sandbox.sandbox import Sandbox
from dpc.triggers.periods import Period


@dataclass(frozen=True)
class RunsSeen:
    runs: tuple[Run, ...]
    since: datetime
    now: datetime


@dataclass(frozen=True)
class WhySeen:
    explanation: Explanation
    now: datetime
    limit: int


@dataclass(frozen=True)
class StatusSeen:
    period: Period
    pipelines: tuple[PipelineStatus, ...]
    now: datetime


@dataclass(frozen=True)
class Closing:
    """The demo's last words: `dpc runs` and `dpc status` at its end, `dpc why` at the
    moment it answers."""

    runs: RunsSeen
    why: WhySeen
    status: StatusSeen


def central(sandbox: Sandbox) -> Central:
    account = sandbox.server.account_id("central")
    return Central.from_clients(
        sandbox.client(account, "dynamodb"), sandbox.client(account, "cloudformation")
    )


def read_runs(sandbox: Sandbox, since: datetime) -> RunsSeen:
    now = sandbox.now
    return RunsSeen(tuple(central(sandbox).runs(now, since)), since, now)


def read_why(sandbox: Sandbox, pipeline: str, limit: int) -> WhySeen:
    return WhySeen(central(sandbox).why(pipeline, limit=limit), sandbox.now, limit)


def read_status(sandbox: Sandbox, period: Period) -> StatusSeen:
    now = sandbox.now
    return StatusSeen(period, tuple(central(sandbox).status(period, now)), now)


@dataclass(frozen=True, order=True)
class Executed:
    """One execution as Step Functions holds it: the ground truth a chaos run is judged by."""

    pipeline: str
    period: str
    status: str


def executed(sandbox: Sandbox) -> tuple[Executed, ...]:
    """Every execution of every dpc state machine in the sandbox's accounts, sorted: what
    really ran, whatever the events, the run log or the timeline say."""
    import json

    from dpc import constants

    found: list[Executed] = []
    for account in sandbox.server.accounts.values():
        states = sandbox.client(account, "stepfunctions")
        for page in states.get_paginator("list_state_machines").paginate():
            for machine in page["stateMachines"]:
                if not machine["name"].startswith(constants.STATE_MACHINE_PREFIX):
                    continue
                pipeline = machine["name"].removeprefix(constants.STATE_MACHINE_PREFIX)
                pages = states.get_paginator("list_executions").paginate(
                    stateMachineArn=machine["stateMachineArn"]
                )
                for execution in (e for p in pages for e in p["executions"]):
                    described = states.describe_execution(executionArn=execution["executionArn"])
                    dpc_input = json.loads(described.get("input") or "{}").get("dpc", {})
                    found.append(
                        Executed(pipeline, str(dpc_input.get("period", "")), execution["status"])
                    )
    return tuple(sorted(found))
