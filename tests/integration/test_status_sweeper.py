"""The status sweeper on moto: what it re-sends from Step Functions to the central bus, and
that the trigger manager, reading exactly what the bus delivered, triggers each child once
whether the original status event arrived or was lost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.stepfunctions.models import stepfunctions_backends

from dpc.constants import STATUS_SWEEP_SOURCE
from dpc.lambdas.central import LocalCentral
from dpc.lambdas.publisher import EventBridgePublisher
from dpc.lambdas.starter import execution_input
from dpc.lambdas.status_sweeper import LOOK_BACK, SweepError, sweep
from dpc.lambdas.trigger_manager import status_change_event
from dpc.triggers.events import RunEvent
from dpc.triggers.memory import CollectingPublisher
from dpc.triggers.model import Condition, Item, ParentRef
from dpc.triggers.periods import parse_period

ACCOUNT = "123456789012"  # moto's default account: the user and the central account here
REGION = "eu-west-1"
LISTINGS = ParentRef("listings", ACCOUNT)
X = ParentRef("pipeline-x", ACCOUNT)
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
"""The scheduled time of the sweep under test."""


@dataclass
class Org:
    sfn: Any
    sqs: Any
    central: LocalCentral
    bus_arn: str
    delivered_url: str
    publisher: CollectingPublisher

    def machine(self, name: str) -> str:
        arn: str = self.sfn.create_state_machine(
            name=name, definition=DEFINITION, roleArn=f"arn:aws:iam::{ACCOUNT}:role/test"
        )["stateMachineArn"]
        return arn

    def run(
        self, machine: str, name: str, period: str, start: datetime, stop: datetime | None
    ) -> str:
        """An execution with the starter's input that started (and, with ``stop``, succeeded)
        at the given times, as Step Functions records it."""
        arn: str = self.sfn.start_execution(
            stateMachineArn=machine,
            name=name,
            input=json.dumps(execution_input(parse_period(period))),
        )["executionArn"]
        execution = stepfunctions_backends[ACCOUNT][REGION].describe_execution(arn)
        execution.start_date = start.replace(tzinfo=None)
        if stop is not None:
            execution.status, execution.stop_date = "SUCCEEDED", stop.replace(tzinfo=None)
        return arn

    def delivered(self) -> list[dict[str, Any]]:
        """The sweep events as the central bus delivered them (envelope set by EventBridge)."""
        events = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.delivered_url, MaxNumberOfMessages=10)
            if not batch.get("Messages"):
                return events
            for message in batch["Messages"]:
                events.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.delivered_url, ReceiptHandle=message["ReceiptHandle"]
                )

    def trigger_manager_handles(self, events: list[dict[str, Any]]) -> None:
        manager = self.central.manager(publisher=self.publisher, clock=lambda: NOW)
        for event in events:
            manager.handle(event)

    def triggered(self) -> list[tuple[ParentRef, list[tuple[str, str]]]]:
        """Each trigger: the child, and its causes' (execution, period)."""
        return [
            (t.child, [(c.execution, str(c.period)) for c in t.causes])
            for t in self.publisher.published
        ]


@pytest.fixture
def org(monkeypatch: pytest.MonkeyPatch) -> Iterator[Org]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        events, sqs = boto3.client("events"), boto3.client("sqs")
        central = LocalCentral.create(boto3.client("dynamodb"), events)
        central.register(LISTINGS)
        central.register(X, Condition(all_of=(Item(LISTINGS, frozenset({"SUCCEEDED"})),)))
        bus = central.settings.event_bus_name
        bus_arn = events.describe_event_bus(Name=bus)["Arn"]
        url = sqs.create_queue(QueueName="delivered")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        events.put_rule(
            Name="sweeps",
            EventBusName=bus,
            EventPattern=json.dumps({"source": [STATUS_SWEEP_SOURCE]}),
        )
        events.put_targets(
            Rule="sweeps",
            EventBusName=bus,
            Targets=[
                {
                    "Id": "q",
                    "Arn": queue_arn["Attributes"]["QueueArn"],
                    # The whole event (moto's default input leaves out the account)
                    "InputTransformer": {"InputTemplate": "<aws.events.event.json>"},
                }
            ],
        )
        publisher = CollectingPublisher(EventBridgePublisher(bus, events))
        yield Org(boto3.client("stepfunctions"), sqs, central, bus_arn, url, publisher)


def test_a_status_never_delivered_is_swept_and_triggers_the_child_once(org: Org) -> None:
    # Given listings succeeded 10 minutes ago, and its status event never arrived
    machine = org.machine("dpc-listings")
    org.run(machine, "l-1", "2026-11-26", NOW - timedelta(minutes=30), NOW - timedelta(minutes=10))
    # When two consecutive (overlapping) sweeps re-send it
    sweep(org.sfn, org.central.events, org.bus_arn, NOW)
    org.trigger_manager_handles(org.delivered())
    sweep(org.sfn, org.central.events, org.bus_arn, NOW + timedelta(minutes=15))
    org.trigger_manager_handles(org.delivered())
    # Then the child started once, caused by the run of the period its input carries
    assert org.triggered() == [(X, [("l-1", "2026-11-26")])]


def test_a_status_already_processed_and_swept_again_triggers_nothing_more(org: Org) -> None:
    machine = org.machine("dpc-listings")
    start, stop = NOW - timedelta(minutes=12), NOW - timedelta(minutes=2)
    arn = org.run(machine, "l-1", "2026-11-26", start, stop)
    # Given Step Functions' own event was delivered and processed
    native = status_change_event(
        RunEvent(stop, LISTINGS, "SUCCEEDED", "l-1", parse_period("2026-11-26")),
        started_at=start,
    )
    assert native["detail"]["executionArn"] == arn
    org.trigger_manager_handles([native])
    assert org.triggered() == [(X, [("l-1", "2026-11-26")])]
    # When the sweep re-sends RUNNING and SUCCEEDED
    sweep(org.sfn, org.central.events, org.bus_arn, NOW)
    swept = org.delivered()
    assert [e["detail"]["status"] for e in swept] == ["RUNNING", "SUCCEEDED"]
    org.trigger_manager_handles(swept)
    # Then no second trigger
    assert org.triggered() == [(X, [("l-1", "2026-11-26")])]


def test_the_sweep_sends_step_functions_status_events_from_the_window_only(org: Org) -> None:
    listings = org.machine("dpc-listings")
    other = org.machine("someone-elses-machine")
    recent = org.run(listings, "recent", "2026-11-26", NOW - timedelta(minutes=5), None)
    long_run = org.run(
        listings, "long", "2026-11-25", NOW - timedelta(hours=3), NOW - timedelta(minutes=1)
    )
    org.run(listings, "old", "2026-11-24", NOW - timedelta(hours=5), NOW - LOOK_BACK * 2)
    org.run(other, "not-dpc", "2026-11-26", NOW - timedelta(minutes=5), None)

    report = sweep(org.sfn, org.central.events, org.bus_arn, NOW)

    swept = org.delivered()
    assert (report.state_machines, report.executions, report.events_sent) == (1, 2, 2)
    by_name = {e["detail"]["name"]: e for e in swept}
    assert set(by_name) == {"recent", "long"}
    running, ended = by_name["recent"], by_name["long"]
    assert running["source"] == STATUS_SWEEP_SOURCE
    assert running["detail-type"] == "Step Functions Execution Status Change"
    assert running["account"] == ACCOUNT
    assert running["detail"]["executionArn"] == recent
    assert running["detail"]["status"] == "RUNNING"
    assert running["detail"]["stopDate"] is None
    assert running["detail"]["startDate"] == int((NOW - timedelta(minutes=5)).timestamp() * 1000)
    assert json.loads(running["detail"]["input"])["dpc"]["period"] == "2026-11-26"
    # The long run started before the window, so only its end is re-sent
    assert ended["detail"]["executionArn"] == long_run
    assert ended["detail"]["status"] == "SUCCEEDED"
    assert ended["detail"]["stopDate"] == int((NOW - timedelta(minutes=1)).timestamp() * 1000)


def test_entries_refused_by_put_events_fail_the_sweep_so_lambda_retries_it(org: Org) -> None:
    machine = org.machine("dpc-listings")
    org.run(machine, "l-1", "2026-11-26", NOW - timedelta(minutes=5), None)

    def refuse(parsed: dict[str, Any], **_: Any) -> None:
        parsed["FailedEntryCount"] = 1
        parsed["Entries"] = [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}]

    org.central.events.meta.events.register("after-call.events.PutEvents", refuse)
    with pytest.raises(SweepError, match="ThrottlingException"):
        sweep(org.sfn, org.central.events, org.bus_arn, NOW)
