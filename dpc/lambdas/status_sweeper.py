"""The status-sweeper Lambda (user account): re-sends the status of every dpc execution that
started or stopped recently to the central bus, because Step Functions' own status-change
events are best effort — one that never arrives would be a child that never runs.

Schedule: every :data:`SWEEP_RATE` (15 minutes), looking back :data:`LOOK_BACK` (20 minutes)
from the scheduled time. The overlap (5 minutes) covers EventBridge's scheduling jitter (up to
a minute), the previous sweep's own run time and a retried invocation, so that no status falls
between two sweeps; a lost status is thus repaired within about 15 minutes, at a cost of one
ListExecutions call per pipeline per sweep (see bench/sweep.py). The window is measured from
the scheduled event's ``time``, so a retry of the same invocation sweeps the same window.

Re-sending is harmless: the central trigger manager records each (execution, status) it
accepts (``store.accept``) and ignores a second copy, so a status already delivered changes
nothing, and one that was lost is processed once.

What is sent: for each execution found, its current status, and also RUNNING when it started
inside the window (a RUNNING that arrives after the terminal status is ignored centrally as
stale). The event has Step Functions' detail-type and detail (executionArn, stateMachineArn,
name, status, startDate and stopDate in epoch ms, input, error, cause), so the trigger
manager parses it with the same code; only the source differs (:data:`STATUS_SWEEP_SOURCE`),
because PutEvents refuses sources starting with ``aws.``. ``output`` is left out: nothing in
dpc reads it, and it could take an entry past PutEvents' 256 KB.

Trust: the central side takes the account from the event envelope, which EventBridge sets to
the sending account; the trigger manager accepts a status only for a pipeline that account
registered. A user account can thus only speak for its own pipelines — which it can run at
will anyway.

Limits: executions are listed newest first, one page of up to 1,000 per call, and paging stops
at the first page reaching back past the window; a run that started before the window and
stopped inside it is found as long as fewer than 1,000 runs of its pipeline started after it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dpc.constants import (
    ENV_CENTRAL_BUS_ARN,
    SFN_STATUS_DETAIL_TYPE,
    STATE_MACHINE_PREFIX,
    STATUS_SWEEP_SOURCE,
)
from dpc.lambdas.clients import client as build_client
from dpc.triggers.model import TERMINAL_STATUSES

SWEEP_RATE = timedelta(minutes=15)
LOOK_BACK = timedelta(minutes=20)
PAGE_SIZE = 1000
"""The largest page ListStateMachines and ListExecutions return: fewest calls."""
PUT_EVENTS_BATCH = 10


class SweepError(RuntimeError):
    """PutEvents refused some entries: the invocation fails, so Lambda retries the sweep."""


@dataclass(frozen=True)
class Settings:
    central_bus_arn: str

    @staticmethod
    def from_env(environ: Mapping[str, str] = os.environ) -> Settings:
        return Settings(central_bus_arn=environ[ENV_CENTRAL_BUS_ARN])


@dataclass(frozen=True)
class SweepReport:
    state_machines: int
    executions: int
    events_sent: int


def _millis(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def dpc_state_machines(sfn: Any) -> list[str]:
    """The ARNs of the account's dpc state machines (their names start with ``dpc-``)."""
    arns = []
    for page in sfn.get_paginator("list_state_machines").paginate(
        PaginationConfig={"PageSize": PAGE_SIZE}
    ):
        arns += [
            m["stateMachineArn"]
            for m in page["stateMachines"]
            if m["name"].startswith(STATE_MACHINE_PREFIX)
        ]
    return arns


def changed_executions(sfn: Any, state_machine_arn: str, since: datetime) -> list[dict[str, Any]]:
    """The executions (as ListExecutions lists them) that started or stopped at or after
    ``since``, reading pages newest first until one reaches back past ``since``."""
    changed: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = sfn.list_executions(
            stateMachineArn=state_machine_arn,
            maxResults=PAGE_SIZE,
            **({"nextToken": token} if token else {}),
        )
        executions = page["executions"]
        changed += [
            e
            for e in executions
            if e["startDate"] >= since or (e.get("stopDate") and e["stopDate"] >= since)
        ]
        token = page.get("nextToken")
        if not token or not executions or executions[-1]["startDate"] < since:
            return changed


def status_details(execution: Mapping[str, Any], since: datetime) -> list[dict[str, Any]]:
    """The Step Functions status-change details to re-send for a described execution: its
    current status, preceded by RUNNING when it started inside the window and has ended."""
    status = execution["status"]
    stop = execution.get("stopDate")
    base = {
        "executionArn": execution["executionArn"],
        "stateMachineArn": execution["stateMachineArn"],
        "name": execution["name"],
        "startDate": _millis(execution["startDate"]),
        "input": execution.get("input"),
        "inputDetails": {"included": "input" in execution},
        "output": None,
        "outputDetails": {"included": False},
    }
    current = {
        **base,
        "status": status,
        "stopDate": _millis(stop) if status in TERMINAL_STATUSES else None,
        "error": execution.get("error"),
        "cause": execution.get("cause"),
    }
    running = {**base, "status": "RUNNING", "stopDate": None, "error": None, "cause": None}
    if status in TERMINAL_STATUSES and execution["startDate"] >= since:
        return [running, current]
    return [current]


def status_entry(detail: Mapping[str, Any], bus: str) -> dict[str, Any]:
    """A PutEvents entry carrying a Step Functions status-change detail in the sweep's form."""
    moment = detail.get("stopDate") or detail.get("startDate")
    return {
        "Source": STATUS_SWEEP_SOURCE,
        "DetailType": SFN_STATUS_DETAIL_TYPE,
        "Detail": json.dumps(detail),
        "Resources": [str(detail.get("executionArn", ""))],
        "EventBusName": bus,
        **({"Time": datetime.fromtimestamp(int(moment) / 1000, UTC)} if moment else {}),
    }


def put_entries(events: Any, entries: Sequence[Mapping[str, Any]]) -> int:
    """PutEvents in batches of 10; raises when any entry is refused (the caller retries the
    whole sweep: entries already sent are sent again, which the central dedup absorbs)."""
    refused: list[str] = []
    for start in range(0, len(entries), PUT_EVENTS_BATCH):
        batch = list(entries[start : start + PUT_EVENTS_BATCH])
        response = events.put_events(Entries=batch)
        if response.get("FailedEntryCount"):
            refused += [
                f"{r.get('ErrorCode')}: {r.get('ErrorMessage')}"
                for r in response["Entries"]
                if r.get("ErrorCode")
            ]
    if refused:
        raise SweepError(f"{len(refused)} status event(s) refused by PutEvents: {refused[:3]}")
    return len(entries)


def sweep(sfn: Any, events: Any, bus: str, scheduled: datetime) -> SweepReport:
    """Re-send the status of every dpc execution that changed since ``scheduled - LOOK_BACK``."""
    since = scheduled - LOOK_BACK
    machines = dpc_state_machines(sfn)
    found: list[dict[str, Any]] = []
    for arn in machines:
        found += changed_executions(sfn, arn, since)
    details: Iterable[dict[str, Any]] = (
        detail
        for listed in found
        for detail in status_details(
            sfn.describe_execution(executionArn=listed["executionArn"]), since
        )
    )
    entries = [status_entry(detail, bus) for detail in details]
    sent = put_entries(events, entries)
    return SweepReport(len(machines), len(found), sent)


def _scheduled_time(event: Mapping[str, Any]) -> datetime:
    text = event.get("time")
    if not text:
        return datetime.now(UTC)
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


_container: tuple[Settings, Any, Any] | None = None
"""Settings and clients, built once per container: a client costs more to build than a
sweep costs to run."""


def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    global _container
    if _container is None:
        _container = (Settings.from_env(), build_client("stepfunctions"), build_client("events"))
    settings, states, events = _container
    report = sweep(states, events, settings.central_bus_arn, _scheduled_time(event))
    return {
        "stateMachines": report.state_machines,
        "executions": report.executions,
        "eventsSent": report.events_sent,
    }
