"""`dpc doctor` and `dpc redrive` on moto: what is stuck is shown without being consumed, and a
replay delivers the dead letter where it was going, deletes it only once accepted, and may be
repeated without a second trigger (the trigger manager's dedup)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws
from typer.testing import CliRunner

from dpc.cli.app import app
from dpc.constants import STATUS_SWEEP_SOURCE
from dpc.lambdas.central import LocalCentral
from dpc.lambdas.publisher import EventBridgePublisher
from dpc.lambdas.trigger_manager import status_change_event
from dpc.operate.redrive import Redriver
from dpc.triggers.events import RunEvent
from dpc.triggers.memory import CollectingPublisher
from dpc.triggers.model import Condition, Item, ParentRef
from dpc.triggers.periods import parse_period

A = "111111111111"
REGION = "eu-west-1"
LISTINGS = ParentRef("listings", A)
X = ParentRef("pipeline-x", A)
CENTRAL_BUS = f"arn:aws:events:{REGION}:{A}:event-bus/dpc-central-bus"
EXPORT_RULE = f"arn:aws:events:{REGION}:{A}:rule/export-events-to-central-bus"
MANAGER_RULE = f"arn:aws:events:{REGION}:{A}:rule/dpc-central-bus/trigger-events-manager"
MANAGER = f"arn:aws:lambda:{REGION}:{A}:function:dpc-central-TriggerManagerFunction"
SWEEPER = f"arn:aws:lambda:{REGION}:{A}:function:dpc-user-account-StatusSweeperFunction"
SUCCEEDED = RunEvent(
    datetime(2026, 11, 27, 3, 10, tzinfo=UTC),
    LISTINGS,
    "SUCCEEDED",
    "l-1",
    parse_period("2026-11-26"),
)


def attributes(rule: str, target: str, code: str, message: str) -> dict[str, Any]:
    """The custom attributes EventBridge puts on a rule target's dead letter."""
    values = {"RULE_ARN": rule, "TARGET_ARN": target, "ERROR_CODE": code, "ERROR_MESSAGE": message}
    return {k: {"DataType": "String", "StringValue": v} for k, v in values.items()}


def on_failure_record(function: str, payload: dict[str, Any]) -> dict[str, Any]:
    """What Lambda sends an on-failure destination after the async retries."""
    return {
        "version": "1.0",
        "timestamp": "2026-11-27T06:03:00.000Z",
        "requestContext": {
            "requestId": "0b8d6a5e-1",
            "functionArn": f"{function}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": payload,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {"errorType": "SweepError", "errorMessage": "1 status event(s) refused"},
    }


SCHEDULED = {
    "version": "0",
    "id": "5a0d1c6b",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": A,
    "time": "2026-11-27T06:00:00Z",
    "region": REGION,
    "resources": [f"arn:aws:events:{REGION}:{A}:rule/sweep"],
    "detail": {},
}


@dataclass
class Account:
    sqs: Any
    events: Any
    cloudwatch: Any
    central: LocalCentral
    delivered_url: str

    def queue(self, name: str) -> str:
        url: str = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        return url

    def dead_letter(self, url: str, body: Any, attrs: dict[str, Any] | None = None) -> None:
        self.sqs.send_message(
            QueueUrl=url, MessageBody=json.dumps(body), MessageAttributes=attrs or {}
        )

    def depth(self, url: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def delivered_to_central_bus(self) -> list[dict[str, Any]]:
        events = []
        while batch := self.sqs.receive_message(
            QueueUrl=self.delivered_url, MaxNumberOfMessages=10
        ).get("Messages"):
            for message in batch:
                events.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.delivered_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return events


@pytest.fixture
def account() -> Iterator[Account]:
    """moto in account A, which is here both a user account and the central one."""
    environment = {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": REGION,
        "MOTO_ACCOUNT_ID": A,
    }
    with mock.patch.dict(os.environ, environment), mock_aws():
        os.environ.pop("AWS_ENDPOINT_URL", None)
        sqs, events = boto3.client("sqs"), boto3.client("events")
        central = LocalCentral.create(boto3.client("dynamodb"), events)
        central.register(LISTINGS)
        central.register(X, Condition(all_of=(Item(LISTINGS, frozenset({"SUCCEEDED"})),)))
        url = sqs.create_queue(QueueName="delivered")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        events.put_rule(
            Name="everything",
            EventBusName="dpc-central-bus",
            EventPattern=json.dumps({"account": [A]}),
        )
        events.put_targets(
            Rule="everything",
            EventBusName="dpc-central-bus",
            Targets=[
                {
                    "Id": "q",
                    "Arn": arn["Attributes"]["QueueArn"],
                    # The whole event (moto's default input leaves out the account)
                    "InputTransformer": {"InputTemplate": "<aws.events.event.json>"},
                }
            ],
        )
        yield Account(sqs, events, boto3.client("cloudwatch"), central, url)


def dpc(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def triggers_from(account: Account, events: list[dict[str, Any]]) -> list[str]:
    """The trigger manager handles ``events``: the children it triggers."""
    publisher = CollectingPublisher(
        EventBridgePublisher(account.central.settings.event_bus_name, account.events)
    )
    manager = account.central.manager(publisher=publisher)
    for event in events:
        manager.handle(event)
    return [t.child.name for t in publisher.published]


def test_doctor_finds_nothing_stuck_in_a_clean_account(account: Account) -> None:
    account.queue("dpc-status-sweeper-dlq")
    code, _, stderr = dpc("doctor")
    assert code == 0
    assert f"account {A}: nothing stuck" in stderr
    code, stdout, _ = dpc("doctor", "--json")
    assert code == 0
    assert json.loads(stdout) == {
        "account": A,
        "stuck": False,
        "deadLetterQueues": [],
        "alarms": [],
        "central": [],
    }


def test_doctor_lists_dead_letters_and_alarms_without_consuming_them(account: Account) -> None:
    sweeper_dlq = account.queue("dpc-status-sweeper-dlq")
    export_dlq = account.queue("dpc-export-dlq")
    other = account.queue("someone-elses-dlq")
    work = account.queue("dpc-work")  # a dpc queue, not a dead-letter queue
    account.dead_letter(sweeper_dlq, on_failure_record(SWEEPER, SCHEDULED))
    account.dead_letter(
        export_dlq,
        status_change_event(SUCCEEDED),
        attributes(EXPORT_RULE, CENTRAL_BUS, "NO_PERMISSIONS", "not authorized"),
    )
    for url in (other, work):
        account.dead_letter(url, {"not": "ours"})
    for name, state in (("dpc-trigger-manager-errors", "ALARM"), ("dpc-quiet", "OK")):
        account.cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="Errors",
            Namespace="AWS/Lambda",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=0,
            ComparisonOperator="GreaterThanThreshold",
        )
        account.cloudwatch.set_alarm_state(
            AlarmName=name, StateValue=state, StateReason=f"{name} is {state}"
        )

    code, stdout, _ = dpc("doctor", "--json")

    assert code == 1
    report = json.loads(stdout)
    assert report["account"] == A and report["stuck"] is True
    queues = {q["name"]: q for q in report["deadLetterQueues"]}
    assert set(queues) == {"dpc-status-sweeper-dlq", "dpc-export-dlq"}
    [sweep_failure] = queues["dpc-status-sweeper-dlq"]["samples"]
    assert sweep_failure == {
        "kind": "lambda-failure",
        "what": "scheduled event of 2026-11-27T06:00:00Z",
        "target": f"{SWEEPER}:$LATEST",
        "error": "SweepError: 1 status event(s) refused",
    }
    [undelivered] = queues["dpc-export-dlq"]["samples"]
    assert undelivered == {
        "kind": "rule-target",
        "what": "status SUCCEEDED of dpc-listings execution l-1",
        "target": CENTRAL_BUS,
        "error": "NO_PERMISSIONS: not authorized",
    }
    assert [a["name"] for a in report["alarms"]] == ["dpc-trigger-manager-errors"]
    # Looking changed nothing
    assert account.depth(sweeper_dlq) == 1 and account.depth(export_dlq) == 1


def test_the_human_report_names_queue_event_target_and_error(account: Account) -> None:
    export_dlq = account.queue("dpc-export-dlq")
    account.dead_letter(
        export_dlq,
        status_change_event(SUCCEEDED),
        attributes(EXPORT_RULE, CENTRAL_BUS, "NO_PERMISSIONS", "not authorized"),
    )
    code, _, stderr = dpc("doctor")
    assert code == 1
    assert "dpc-export-dlq: 1 message(s)" in stderr
    assert f"status SUCCEEDED of dpc-listings execution l-1 → {CENTRAL_BUS}" in stderr
    assert "error: NO_PERMISSIONS: not authorized" in stderr
    assert "dpc redrive" in stderr


def test_redrive_resends_a_status_the_export_rule_dropped_and_twice_triggers_once(
    account: Account,
) -> None:
    # Given the export rule dead-lettered the same status twice (at-least-once delivery)
    export_dlq = account.queue("dpc-export-dlq")
    for _ in range(2):
        account.dead_letter(
            export_dlq,
            status_change_event(SUCCEEDED),
            attributes(EXPORT_RULE, CENTRAL_BUS, "NO_PERMISSIONS", "not authorized"),
        )
    # When a dry run shows them, then a redrive replays them
    code, stdout, _ = dpc("redrive", "dpc-export-dlq", "--dry-run", "--json")
    assert code == 0
    assert [r["outcome"] for r in json.loads(stdout)] == ["would replay"] * 2
    assert account.depth(export_dlq) == 2 and account.delivered_to_central_bus() == []
    code, stdout, _ = dpc("redrive", "--all", "--json")
    # Then both were put on the central bus in the sweep's form, and deleted
    assert code == 0
    assert [r["outcome"] for r in json.loads(stdout)] == ["replayed"] * 2
    assert account.depth(export_dlq) == 0
    delivered = account.delivered_to_central_bus()
    assert [(e["source"], e["detail"]["executionArn"]) for e in delivered] == [
        (STATUS_SWEEP_SOURCE, status_change_event(SUCCEEDED)["detail"]["executionArn"])
    ] * 2
    # and the child starts once
    assert triggers_from(account, delivered) == ["pipeline-x"]


def test_redrive_invokes_the_function_again_with_the_original_payload(account: Account) -> None:
    # Given the trigger manager's rule dead-lettered a status, and the sweeper failed
    manager_dlq = account.queue("dpc-trigger-manager-dlq")
    sweeper_dlq = account.queue("dpc-status-sweeper-dlq")
    account.events.put_rule(
        Name="trigger-events-manager",
        EventBusName="dpc-central-bus",
        EventPattern=json.dumps({"source": ["aws.states"]}),
    )
    account.events.put_targets(
        Rule="trigger-events-manager",
        EventBusName="dpc-central-bus",
        Targets=[{"Id": "manager", "Arn": MANAGER}],
    )
    status = status_change_event(SUCCEEDED)
    for _ in range(2):
        account.dead_letter(
            manager_dlq, status, attributes(MANAGER_RULE, MANAGER, "THROTTLING", "Rate exceeded")
        )
    account.dead_letter(sweeper_dlq, on_failure_record(SWEEPER, SCHEDULED))
    # When redrive replays both queues (moto cannot run the functions: the Lambda client is
    # stubbed, and what redrive sends it is recorded)
    lambda_ = boto3.client("lambda")
    sent: list[dict[str, Any]] = []
    lambda_.meta.events.register(
        "provide-client-params.lambda.Invoke", lambda params, **_: sent.append(dict(params))
    )
    with Stubber(lambda_) as stub:
        for _ in range(3):
            stub.add_response("invoke", {"StatusCode": 202}, {"FunctionName": ANY, **_ASYNC})
        redriver = Redriver(account.sqs, lambda_, account.events)
        replays = redriver.redrive(manager_dlq) + redriver.redrive(sweeper_dlq)
    # Then each went to its function, asynchronously, with what it got the first time
    assert [r.outcome for r in replays] == ["replayed"] * 3
    assert [(s["FunctionName"], s["InvocationType"]) for s in sent] == [
        (MANAGER, "Event"),
        (MANAGER, "Event"),
        (f"{SWEEPER}:$LATEST", "Event"),
    ]
    payloads = [json.loads(s["Payload"]) for s in sent]
    assert payloads == [status, status, SCHEDULED]
    assert account.depth(manager_dlq) == 0 and account.depth(sweeper_dlq) == 0
    # and the twice-replayed status triggers the child once
    assert triggers_from(account, payloads[:2]) == ["pipeline-x"]


_ASYNC = {"InvocationType": "Event", "Payload": ANY}


def test_a_replay_that_fails_leaves_the_message_in_its_queue(account: Account) -> None:
    sweeper_dlq = account.queue("dpc-status-sweeper-dlq")
    account.dead_letter(sweeper_dlq, on_failure_record(SWEEPER, SCHEDULED))
    lambda_ = boto3.client("lambda")
    with Stubber(lambda_) as stub:
        stub.add_client_error("invoke", "ResourceNotFoundException", "Function not found")
        [replay] = Redriver(account.sqs, lambda_, account.events).redrive(sweeper_dlq)
    assert replay.outcome.startswith("failed: AWS refused Invoke: ResourceNotFoundException")
    assert account.depth(sweeper_dlq) == 1  # and visible again at once


def test_redrive_of_a_missing_queue_is_one_line_and_exit_code_1(account: Account) -> None:
    code, _, stderr = dpc("redrive", "dpc-nothing-dlq")
    assert code == 1
    assert "AWS refused GetQueueUrl" in stderr and len(stderr.strip().splitlines()) == 1


def test_redrive_needs_a_queue_or_all(account: Account) -> None:
    code, _, stderr = dpc("redrive")
    assert code == 2
    assert "QUEUE" in stderr


def test_an_event_without_source_is_reported_and_the_rest_of_the_queue_still_replayed(
    account: Account,
) -> None:
    # Given a dead-lettered event bound for a bus that has lost its source and detail-type
    # (hand-edited, or from a producer dpc does not know), and a good one behind it
    bus_dlq = account.queue("dpc-forward-dlq")
    broken = {key: value for key, value in SCHEDULED.items() if key not in {"source"}}
    for event in (broken, SCHEDULED):
        account.dead_letter(
            bus_dlq, event, attributes(EXPORT_RULE, CENTRAL_BUS, "THROTTLING", "slow down")
        )
    # When it is redriven
    code, stdout, stderr = dpc("redrive", "dpc-forward-dlq", "--json")
    # Then the broken one is named as not replayable and kept, the good one replayed
    assert code == 1, stderr
    outcomes = [r["outcome"] for r in json.loads(stdout)]
    assert outcomes == ["failed: the dead-lettered event has no source", "replayed"]
    assert account.depth(bus_dlq) == 1
    assert [e["detail-type"] for e in account.delivered_to_central_bus()] == ["Scheduled Event"]
