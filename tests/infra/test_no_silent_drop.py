"""No silent drop (issue 11 item 2): in every synthesized dpc template, every queue, dpc
function and rule has its operator alarm(s), every asynchronously invoked function retries
twice and then parks the event in a queue, and every rule target has a dead-letter queue."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_helpers import resources, templates_of

pytestmark = pytest.mark.slow

TEMPLATES = ("central_template", "org_central_template", "user_template", "pipeline_templates")


def _all_templates(request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    return templates_of(request, TEMPLATES)


def _alarms(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]


def _dimension(alarm: dict[str, Any], name: str) -> Any:
    return {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}.get(name)


def _operator_topic(template: dict[str, Any]) -> Any:
    topics = {
        logical_id: t
        for logical_id, t in resources(template, "AWS::SNS::Topic").items()
        if t["Properties"].get("TopicName") == "dpc-operator"
    }
    if topics:
        (logical_id,) = topics
        return {"Ref": logical_id}
    return {"Fn::ImportValue": "dpc-operator-topic-arn"}


def _assert_operator_alarm(template: dict[str, Any], alarm: dict[str, Any]) -> None:
    assert alarm["AlarmName"].startswith("dpc-"), alarm["AlarmName"]
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [_operator_topic(template)]


def test_every_queue_is_a_named_dlq_with_a_depth_alarm(request: pytest.FixtureRequest) -> None:
    for where, template in _all_templates(request).items():
        queues = resources(template, "AWS::SQS::Queue")
        assert queues, where
        for logical_id, queue in queues.items():
            props = queue["Properties"]
            assert props["QueueName"].startswith("dpc-"), (where, logical_id)
            assert props["QueueName"].endswith("-dlq"), (where, logical_id)
            assert props["SqsManagedSseEnabled"] is True
            assert props["MessageRetentionPeriod"] == 14 * 24 * 3600
            assert queue["DeletionPolicy"] == "Retain"
            watching = [
                a
                for a in _alarms(template)
                if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
                and _dimension(a, "QueueName") == {"Fn::GetAtt": [logical_id, "QueueName"]}
            ]
            assert len(watching) == 1, (where, logical_id)
            _assert_operator_alarm(template, watching[0])


def _dpc_functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """dpc's own functions (their descriptions start with 'dpc:'), not CDK's providers."""
    return {
        logical_id: f
        for logical_id, f in resources(template, "AWS::Lambda::Function").items()
        if str(f["Properties"].get("Description", "")).startswith("dpc:")
    }


def test_every_dpc_function_alarms_on_errors_and_throttles(
    request: pytest.FixtureRequest,
) -> None:
    for where, template in _all_templates(request).items():
        functions = _dpc_functions(template)
        assert functions, where
        assert len(functions) == len(resources(template, "AWS::Lambda::Function")), where
        for logical_id in functions:
            metrics = sorted(
                a["MetricName"]
                for a in _alarms(template)
                if a.get("Namespace") == "AWS/Lambda"
                and _dimension(a, "FunctionName") == {"Ref": logical_id}
            )
            assert metrics == ["Errors", "Throttles"], (where, logical_id)
            for alarm in _alarms(template):
                if _dimension(alarm, "FunctionName") == {"Ref": logical_id}:
                    _assert_operator_alarm(template, alarm)


def test_every_rule_alarms_on_failed_and_dead_lettered_deliveries(
    request: pytest.FixtureRequest,
) -> None:
    for where, template in _all_templates(request).items():
        for logical_id, rule in resources(template, "AWS::Events::Rule").items():
            props = rule["Properties"]
            metrics = sorted(
                a["MetricName"]
                for a in _alarms(template)
                if a.get("Namespace") == "AWS/Events"
                and _dimension(a, "RuleName") == props["Name"]
                and _dimension(a, "EventBusName") == props.get("EventBusName")
            )
            assert metrics == ["FailedInvocations", "InvocationsSentToDlq"], (where, logical_id)


def _queue_arn(template: dict[str, Any], value: Any) -> str:
    """The QueueName of the queue a ``Fn::GetAtt [queue, Arn]`` points at."""
    (logical_id, attribute) = value["Fn::GetAtt"]
    assert attribute == "Arn"
    return str(template["Resources"][logical_id]["Properties"]["QueueName"])


def test_every_rule_target_has_a_dead_letter_queue_and_lambda_targets_a_retry_policy(
    request: pytest.FixtureRequest,
) -> None:
    for where, template in _all_templates(request).items():
        for logical_id, rule in resources(template, "AWS::Events::Rule").items():
            for target in rule["Properties"]["Targets"]:
                dlq = _queue_arn(template, target["DeadLetterConfig"]["Arn"])
                assert dlq.startswith("dpc-") and dlq.endswith("-dlq"), (where, logical_id)
                if "Fn::GetAtt" in target["Arn"] and "Function" in str(target["Arn"]):
                    assert target["RetryPolicy"] == {
                        "MaximumEventAgeInSeconds": 86400,
                        "MaximumRetryAttempts": 185,
                    }


def _async_functions(template: dict[str, Any]) -> set[str]:
    """Functions invoked asynchronously: rule targets and log-subscription destinations."""
    found = set()
    for rule in resources(template, "AWS::Events::Rule").values():
        for target in rule["Properties"]["Targets"]:
            if "Fn::GetAtt" in target["Arn"]:
                (logical_id, _) = target["Arn"]["Fn::GetAtt"]
                if template["Resources"][logical_id]["Type"] == "AWS::Lambda::Function":
                    found.add(logical_id)
    for subscription in resources(template, "AWS::Logs::SubscriptionFilter").values():
        (logical_id, _) = subscription["Properties"]["DestinationArn"]["Fn::GetAtt"]
        found.add(logical_id)
    return found


def test_every_async_function_retries_twice_then_parks_the_event_in_a_dlq(
    request: pytest.FixtureRequest,
) -> None:
    seen = 0
    for where, template in _all_templates(request).items():
        configs = {
            c["Properties"]["FunctionName"]["Ref"]: c["Properties"]
            for c in resources(template, "AWS::Lambda::EventInvokeConfig").values()
        }
        for logical_id in _async_functions(template):
            seen += 1
            config = configs[logical_id]
            assert config["MaximumRetryAttempts"] == 2, (where, logical_id)
            assert config["MaximumEventAgeInSeconds"] <= 6 * 3600
            destination = config["DestinationConfig"]["OnFailure"]["Destination"]
            dlq = _queue_arn(template, destination)
            assert dlq.startswith("dpc-") and dlq.endswith("-dlq"), (where, logical_id)
    assert seen >= 4  # trigger manager, each pipeline's starter, a tracker


def test_queue_names_follow_the_convention_doctor_and_redrive_rely_on(
    central_template: dict[str, Any],
    user_template: dict[str, Any],
    pipeline_templates: dict[str, dict[str, Any]],
) -> None:
    def names(template: dict[str, Any]) -> set[str]:
        return {
            q["Properties"]["QueueName"] for q in resources(template, "AWS::SQS::Queue").values()
        }

    assert names(central_template) == {
        "dpc-trigger-manager-dlq",
        "dpc-route-dlq",
        "dpc-outbox-sweeper-dlq",
        "dpc-late-alert-sweeper-dlq",
    }
    assert names(user_template) == {"dpc-export-dlq", "dpc-status-sweeper-dlq"}
    assert "dpc-listings-starts-dlq" in names(pipeline_templates["listings"])


@pytest.mark.parametrize("fixture", ["central_template", "user_template"])
def test_operator_topic_is_encrypted_with_a_rotated_key_cloudwatch_may_use(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    template = request.getfixturevalue(fixture)
    (topic,) = [
        t["Properties"]
        for t in resources(template, "AWS::SNS::Topic").values()
        if t["Properties"]["TopicName"] == "dpc-operator"
    ]
    (key_id, _) = topic["KmsMasterKeyId"]["Fn::GetAtt"]
    key = template["Resources"][key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    assert any(
        s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        and set(s["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
        for s in key["KeyPolicy"]["Statement"]
    )
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in resources(template, "AWS::SNS::TopicPolicy").values()
    ]
    assert any(
        s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for p in policies for s in p
    )


def test_an_operator_email_is_subscribed_to_the_operator_topic(tmp_path: Any) -> None:
    from dpc.infra.app import synth_user_account

    synthesis = synth_user_account(
        tmp_path, central_account="999999999999", operator_email="ops@example.com"
    )
    template = json.loads(synthesis.stacks[0].template_file.read_text())
    (topic_id,) = [
        logical_id
        for logical_id, t in resources(template, "AWS::SNS::Topic").items()
        if t["Properties"]["TopicName"] == "dpc-operator"
    ]
    subscriptions = [
        s["Properties"] for s in resources(template, "AWS::SNS::Subscription").values()
    ]
    assert subscriptions == [
        {"Protocol": "email", "Endpoint": "ops@example.com", "TopicArn": {"Ref": topic_id}}
    ]
