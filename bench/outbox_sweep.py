"""Cost of the central outbox sweep: AWS requests per sweep and per day, by stuck triggers.

A parent with N children succeeds while PutEvents is down, so N triggers are recorded and
none is published; one sweep after the lease then publishes them all. DynamoDB and
EventBridge are moto; requests are counted through botocore's events. An idle sweep (nothing
stuck) is the daily cost: one Query per run, every OUTBOX_SWEEP_MINUTES.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

from dpc.constants import OUTBOX_SWEEP_MINUTES
from dpc.lambdas.central import LocalCentral
from dpc.lambdas.outbox_sweeper import OutboxSweeper, Settings
from dpc.lambdas.trigger_manager import status_change_event
from dpc.triggers.engine import OUTBOX_LEASE
from dpc.triggers.events import RunEvent
from dpc.triggers.model import Condition, Item, ParentRef
from dpc.triggers.periods import period_containing

SWEEPS_PER_DAY = 24 * 60 // OUTBOX_SWEEP_MINUTES
PARENT = ParentRef("parent", "111111111111")


def _unavailable(**_: Any) -> None:
    raise ClientError({"Error": {"Code": "InternalFailure", "Message": "down"}}, "PutEvents")


def sweep_cost(stuck: int) -> tuple[Counter[str], int, float]:
    """(requests by operation, triggers published, seconds) of one sweep over ``stuck``."""
    with mock_aws():
        dynamodb, events = boto3.client("dynamodb"), boto3.client("events")
        central = LocalCentral.create(dynamodb, events)
        central.register(PARENT)
        for number in range(stuck):
            child = ParentRef(f"child-{number}", "222222222222")
            central.register(child, Condition(all_of=(Item(PARENT, frozenset({"SUCCEEDED"})),)))
        wall = datetime(2026, 11, 27, 3, 10, tzinfo=UTC)
        manager = central.manager(wall_clock=lambda: wall)
        events.meta.events.register("before-parameter-build.events.PutEvents", _unavailable)
        run = RunEvent(wall, PARENT, "SUCCEEDED", "p-1", period_containing("day", wall))
        with contextlib.suppress(ClientError):  # the publish fails: all N stay in the outbox
            manager.handle(status_change_event(run))
        events.meta.events.unregister("before-parameter-build.events.PutEvents", _unavailable)
        sweeper_dynamodb, sweeper_events = boto3.client("dynamodb"), boto3.client("events")
        calls: Counter[str] = Counter()
        for client in (sweeper_dynamodb, sweeper_events):
            client.meta.events.register(
                "before-call", lambda model, **_: calls.update([model.name])
            )
        sweeper = OutboxSweeper(
            Settings(central.settings.trigger_state_table, central.settings.event_bus_name),
            dynamodb=sweeper_dynamodb,
            events=sweeper_events,
        )
        started = time.perf_counter()
        report = sweeper.sweep(wall + OUTBOX_LEASE + timedelta(seconds=1))
        return calls, len(report.published), time.perf_counter() - started


def main() -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="eu-west-1"
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    print(f"one sweep every {OUTBOX_SWEEP_MINUTES} min = {SWEEPS_PER_DAY} sweeps/day")
    idle = sum(sweep_cost(0)[0].values())
    print(f"idle: {idle} request(s) per sweep, {idle * SWEEPS_PER_DAY} per day")
    print(f"{'stuck':>6} {'published':>9} {'requests':>8}  {'by operation':<36} seconds")
    for stuck in (10, 100, 500):
        calls, published, seconds = sweep_cost(stuck)
        detail = ", ".join(f"{name} {count}" for name, count in sorted(calls.items()))
        print(f"{stuck:>6} {published:>9} {sum(calls.values()):>8}  {detail:<36} {seconds:.2f}")


if __name__ == "__main__":
    main()
