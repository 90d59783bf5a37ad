"""Cost of the central late-alert sweep: AWS requests of one sweep, by watched pipelines.

N daily pipelines with ``expect: {by: "06:00"}`` are registered and watched; on the day,
a share of them fails at 05:11 (late), the rest succeed at 05:10. One sweep at 06:05 then
takes every due item. The next sweep (nothing due) is the cost of each of the 288
sweeps a day, with the open alerts it re-reads until they recover. DynamoDB and EventBridge
are moto; requests are counted through botocore's events; no Slack channel is registered,
so the late ones are told by EventBridge only.

With ``--children`` each pipeline also has a correlated child that sets no deadline and took
30 minutes the day before: the parents' sweep then watches each child at its inferred
deadline (06:30), and one more sweep at 06:35 takes those; the children of late parents are
late (waiting on them), the others succeeded at 05:50.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import boto3
from moto import mock_aws

from dpc.constants import LATE_SWEEP_MINUTES
from dpc.lambdas.central import LocalCentral, state_machine_arn
from dpc.lambdas.due_index import watch
from dpc.lambdas.late_alerts import LateAlertSweeper, Settings
from dpc.lambdas.registry import Registration
from dpc.lambdas.trigger_manager import status_change_event
from dpc.triggers.deadlines import parse_expect
from dpc.triggers.events import RunEvent
from dpc.triggers.model import Condition, Item, ParentRef
from dpc.triggers.periods import PeriodSpec, period_containing

SWEEPS_PER_DAY = 24 * 60 // LATE_SWEEP_MINUTES
REGISTERED_AT = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
LATE_SHARE = 10
"""One pipeline in this many is late."""


def sweep_cost(
    pipelines: int, children: bool = False
) -> tuple[Counter[str], int, Counter[str], float, Counter[str], int]:
    """(requests of the due sweep, pipelines told late, requests of the next sweep, seconds,
    requests of the children's sweep, children told late)."""
    with mock_aws():
        dynamodb, events = boto3.client("dynamodb"), boto3.client("events")
        central = LocalCentral.create(dynamodb, events)
        table = central.settings.trigger_state_table
        manager = central.manager()
        started = REGISTERED_AT + timedelta(hours=5)
        for number in range(pipelines):
            ref = ParentRef(f"pipeline-{number}", f"{100000000000 + number % 50}")
            registration = Registration(
                ref, state_machine_arn(ref), None, period=PeriodSpec(), expect=parse_expect("06:00")
            )
            central.registry.register(registration)
            watch(dynamodb, table, registration, REGISTERED_AT)
            late = number % LATE_SHARE == 0
            status, stopped = ("FAILED", 11) if late else ("SUCCEEDED", 10)
            at = started + timedelta(minutes=stopped)
            run = RunEvent(at, ref, status, f"s-{number}", period_containing("day", started))  # type: ignore[arg-type]
            manager.handle(status_change_event(run, started_at=started))
            if children:
                _child_of(central, ref, number, on_time=not late)
        settings = Settings(
            central.settings.dependencies_table,
            central.settings.run_log_table,
            table,
            central.settings.event_bus_name,
        )
        sweeper_dynamodb, sweeper_events = boto3.client("dynamodb"), boto3.client("events")
        calls: Counter[str] = Counter()
        for client in (sweeper_dynamodb, sweeper_events):
            client.meta.events.register(
                "before-call", lambda model, **_: calls.update([model.name])
            )
        sweeper = LateAlertSweeper(
            settings, None, dynamodb=sweeper_dynamodb, events=sweeper_events, max_due=pipelines
        )
        sweeper.sweep(REGISTERED_AT + timedelta(hours=1))  # the cursor starts
        calls.clear()
        begun = time.perf_counter()
        report = sweeper.sweep(REGISTERED_AT + timedelta(hours=6, minutes=5))
        seconds = time.perf_counter() - begun
        due = Counter(calls)
        calls.clear()
        sweeper.sweep(REGISTERED_AT + timedelta(hours=6, minutes=10))
        idle = Counter(calls)
        calls.clear()
        inferred = sweeper.sweep(REGISTERED_AT + timedelta(hours=6, minutes=35))
        return due, len(report.late), idle, seconds, Counter(calls), len(inferred.late)


def _child_of(central: LocalCentral, parent: ParentRef, number: int, *, on_time: bool) -> None:
    child = ParentRef(f"report-{number}", parent.account)
    condition = Condition(all_of=(Item(parent, frozenset({"SUCCEEDED"})),), correlate="period")
    central.registry.register(
        Registration(child, state_machine_arn(child), condition, period=PeriodSpec())
    )
    runs = [REGISTERED_AT - timedelta(hours=18)]  # 06:00 the day before: its typical 30 minutes
    if on_time:
        runs.append(REGISTERED_AT + timedelta(hours=5, minutes=20))
    for day, start in enumerate(runs):
        period = period_containing("day", start + timedelta(hours=1))
        run = RunEvent(
            start + timedelta(minutes=30), child, "SUCCEEDED", f"r-{number}-{day}", period
        )
        central.manager().handle(status_change_event(run, started_at=start))


def main() -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    for service in ("dpc-late-alert-sweeper", "dpc-trigger-manager"):
        logging.getLogger(service).setLevel(logging.WARNING)
    for pipelines in (10, 100, 1_000):
        due, late, idle, seconds, _, _ = sweep_cost(pipelines)
        total = sum(due.values())
        print(
            f"{pipelines:>5} pipelines due, {late:>3} late: {total:>5} requests "
            f"({total / pipelines:.1f} per pipeline; {dict(sorted(due.items()))}), "
            f"sweep {seconds:.2f} s on moto; the next sweep, {late} alerts open: "
            f"{sum(idle.values())} requests (one of {SWEEPS_PER_DAY} a day)"
        )
    for pipelines in (10, 100):
        due, _, _, _, inferred, late = sweep_cost(pipelines, children=True)
        print(
            f"{pipelines:>5} pipelines due, each with a correlated child without a deadline: "
            f"{sum(due.values()):>5} requests ({sum(due.values()) / pipelines:.1f} per pipeline); "
            f"at the children's inferred deadline {sum(inferred.values())} requests, "
            f"{late} children late ({dict(sorted(inferred.items()))})"
        )


if __name__ == "__main__":
    main()
