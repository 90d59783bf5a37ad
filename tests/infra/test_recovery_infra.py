"""Reconciliation in the templates: the user account's status sweeper (schedule, retries,
dead-letter queue, least privilege), the central rule admitting swept statuses, and the
trigger manager's timeout staying inside the outbox lease."""

from __future__ import annotations

from typing import Any

import pytest
from infra_helpers import as_list, only, policy_statements, render, resources, rule_named

from dpc.constants import STATUS_SWEEP_SOURCE, TRIGGER_MANAGER_RULE_NAME
from dpc.infra.ids import STATUS_SWEEPER_DLQ_NAME
from dpc.sandbox.patterns import matches
from dpc.triggers.engine import TriggerEngine

pytestmark = pytest.mark.slow
SWEEPER = "dpc.lambdas.status_sweeper.handler"
CENTRAL_BUS = "arn:aws:events:eu-west-1:999999999999:event-bus/dpc-central-bus"


def _sweeper(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (logical_id, f["Properties"])
        for logical_id, f in resources(template, "AWS::Lambda::Function").items()
        if f["Properties"]["Handler"] == SWEEPER
    ]
    return found


def _dlq(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (logical_id, q)
        for logical_id, q in resources(template, "AWS::SQS::Queue").items()
        if q["Properties"].get("QueueName") == STATUS_SWEEPER_DLQ_NAME
    ]
    return found


def test_the_sweeper_runs_every_15_minutes_with_retries_and_a_dead_letter_queue(
    user_template: dict[str, Any],
) -> None:
    function_id, function = _sweeper(user_template)
    queue_id, _ = _dlq(user_template)
    (rule,) = [
        r["Properties"]
        for r in resources(user_template, "AWS::Events::Rule").values()
        if "ScheduleExpression" in r["Properties"]
    ]
    assert rule["ScheduleExpression"] == "rate(15 minutes)"
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 24 * 3600
    assert render(function["Environment"]["Variables"]["DPC_CENTRAL_BUS_ARN"]) == CENTRAL_BUS


def test_the_sweepers_failures_land_in_its_retained_encrypted_tls_only_queue(
    user_template: dict[str, Any],
) -> None:
    function_id, _ = _sweeper(user_template)
    queue_id, queue = _dlq(user_template)
    config = only(user_template, "AWS::Lambda::EventInvokeConfig")["Properties"]
    assert config["FunctionName"] == {"Ref": function_id}
    assert config["MaximumRetryAttempts"] == 2
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [queue_id, "Arn"]
    }
    assert queue["DeletionPolicy"] == "Retain"
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    (policy,) = [
        p["Properties"]["PolicyDocument"]
        for p in resources(user_template, "AWS::SQS::QueuePolicy").values()
        if {"Ref": queue_id} in p["Properties"]["Queues"]
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Statement"]
    )


def test_the_sweeper_may_read_dpc_executions_and_put_on_the_central_bus_only(
    user_template: dict[str, Any],
) -> None:
    _, function = _sweeper(user_template)
    role = function["Role"]["Fn::GetAtt"][0]
    granted: dict[str, list[str]] = {}
    for logical_id, statement in policy_statements(user_template):
        policy = user_template["Resources"][logical_id]["Properties"]
        if {"Ref": role} not in policy.get("Roles", []):
            continue
        for action in as_list(statement["Action"]):
            if action.startswith("logs:"):  # its own log group: tests/infra/test_lambda_roles.py
                continue
            granted.setdefault(action, []).extend(render(as_list(statement["Resource"])))
    states = "arn:aws:states:eu-west-1:333333333333"
    assert granted["states:ListStateMachines"] == ["*"]
    assert granted["states:ListExecutions"] == [f"{states}:stateMachine:dpc-*"]
    assert granted["states:DescribeExecution"] == [f"{states}:execution:dpc-*:*"]
    assert granted["events:PutEvents"] == [CENTRAL_BUS]
    assert set(granted) - {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"} == {
        "states:ListStateMachines",
        "states:ListExecutions",
        "states:DescribeExecution",
        "events:PutEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }


def test_the_trigger_manager_rule_takes_swept_statuses_too(
    central_template: dict[str, Any],
) -> None:
    pattern = rule_named(central_template, TRIGGER_MANAGER_RULE_NAME)["EventPattern"]
    swept = {
        "source": STATUS_SWEEP_SOURCE,
        "detail-type": "Step Functions Execution Status Change",
        "detail": {"status": "SUCCEEDED"},
    }
    assert matches(pattern, swept)
    assert not matches(pattern, {**swept, "source": "someone.else"})


def test_the_trigger_manager_times_out_before_its_outbox_lease_expires(
    central_template: dict[str, Any],
) -> None:
    (manager,) = [
        f["Properties"]
        for f in resources(central_template, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "dpc.lambdas.trigger_manager.handler"
    ]
    lease = TriggerEngine(store=None, publisher=None).outbox_lease  # type: ignore[arg-type]
    assert manager["Timeout"] < lease.total_seconds()
