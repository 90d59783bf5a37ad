"""Alerting as synthesized: the pipeline's topic, subscriptions and execution tracker, the
central Slack API with its poster and channel publisher, and no Slack token in any template."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from infra_helpers import only, policy_statements, render, resources

from dpc import constants

pytestmark = pytest.mark.slow

ALERTS = """\
name: {name}
account: "333333333333"
trigger: {{schedule: {{hour: 4}}}}
steps:
  - {{name: aggregate, type: spark, script: jobs/aggregate.py}}
  - {{name: export, type: shell, script: scripts/export.sh}}
{notifications}
"""
EVERY_CHANNEL = """\
notifications:
  type: FULL_EXECUTION
  targets:
    - {channel: SLACK, addresses: [data-pipeline-alerts, "#team-b"]}
    - {channel: EMAIL, addresses: [team@example.com, oncall@example.com]}
    - {channel: OPSGENIE, addresses: ["https://api.opsgenie.com/v1/json/amazonsns?apiKey=k"]}
    - {channel: WEBHOOK, addresses: ["https://hooks.example.com/dpc"]}
"""
EMAIL_ONLY = """\
notifications:
  type: ON_FINISH
  targets:
    - {channel: EMAIL, addresses: [team@example.com]}
"""
TOKEN_PATTERN = re.compile(r"xox[abposr]-|xapp-|hooks\.slack\.com/services")


@pytest.fixture(scope="module")
def alerting_synthesis(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Pipelines with every kind of target, e-mail only, and no notifications (cdk-nag runs
    inside synthesis, so an unacknowledged finding would fail this fixture)."""
    from dpc.infra.app import synth_pipelines
    from dpc.spec.loader import load_pipeline

    root = tmp_path_factory.mktemp("alerting")
    pipelines = []
    for name, notifications in (
        ("every-channel", EVERY_CHANNEL),
        ("email-only", EMAIL_ONLY),
        ("quiet", ""),
    ):
        project = root / name
        for script in ("jobs/aggregate.py", "scripts/export.sh"):
            (project / script).parent.mkdir(parents=True, exist_ok=True)
            (project / script).write_text("echo ok\n")
        (project / "pipeline.yaml").write_text(
            ALERTS.format(name=name, notifications=notifications)
        )
        pipelines.append(load_pipeline(project))
    return synth_pipelines(pipelines, root / "out")


@pytest.fixture(scope="module")
def templates(alerting_synthesis: Any) -> dict[str, dict[str, Any]]:
    return {
        s.name.removeprefix("dpc-pipeline-"): json.loads(Path(s.template_file).read_text())
        for s in alerting_synthesis.stacks
    }


def test_alerting_templates_are_clean_for_cfn_lint(alerting_synthesis: Any) -> None:
    from cfnlint.api import lint_file

    for stack in alerting_synthesis.stacks:
        errors = [m for m in lint_file(Path(stack.template_file)) if m.rule.severity == "error"]
        assert errors == [], stack.name


def _tracker(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    functions = {
        logical_id: f
        for logical_id, f in resources(template, "AWS::Lambda::Function").items()
        if f["Properties"]["Handler"] == "dpc.lambdas.execution_tracker.handler"
    }
    assert len(functions) == 1
    return next(iter(functions.items()))


def test_topic_is_encrypted_and_has_one_subscription_per_email_opsgenie_webhook_target(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["every-channel"]
    topic_id, topic = next(iter(resources(template, "AWS::SNS::Topic").items()))
    assert len(resources(template, "AWS::SNS::Topic")) == 1
    assert render(topic["Properties"]["KmsMasterKeyId"])  # encrypted at rest
    subscriptions = [
        s["Properties"] for s in resources(template, "AWS::SNS::Subscription").values()
    ]
    assert {(s["Protocol"], s["Endpoint"]) for s in subscriptions} == {
        ("email", "team@example.com"),
        ("email", "oncall@example.com"),
        ("https", "https://api.opsgenie.com/v1/json/amazonsns?apiKey=k"),
        ("https", "https://hooks.example.com/dpc"),
    }
    assert len(subscriptions) == 4  # Slack channels are not SNS subscriptions
    assert all(s["TopicArn"] == {"Ref": topic_id} for s in subscriptions)


def test_tracker_reads_the_state_machines_log_and_knows_its_steps(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["every-channel"]
    tracker_id, tracker = _tracker(template)
    machine = only(template, "AWS::StepFunctions::StateMachine")["Properties"]
    logging = machine["LoggingConfiguration"]
    assert logging["Level"] == "ALL"  # step-level events reach the log only at level ALL
    machine_log_group = logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]
    log_group_id = machine_log_group["Fn::GetAtt"][0]

    subscription = only(template, "AWS::Logs::SubscriptionFilter")["Properties"]
    assert subscription["LogGroupName"] == {"Ref": log_group_id}
    assert subscription["DestinationArn"] == {"Fn::GetAtt": [tracker_id, "Arn"]}
    permissions = [
        p["Properties"]
        for p in resources(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [tracker_id, "Arn"]}
    ]
    assert any(p["Principal"] == "logs.amazonaws.com" for p in permissions)

    env = tracker["Properties"]["Environment"]["Variables"]
    assert env[constants.ENV_PIPELINE_NAME] == "every-channel"
    assert env[constants.ENV_NOTIFICATION_TYPE] == "FULL_EXECUTION"
    topic_id = next(iter(resources(template, "AWS::SNS::Topic")))
    assert env[constants.ENV_NOTIFICATION_TOPIC_ARN] == {"Ref": topic_id}
    assert render(env[constants.ENV_SLACK_API_URL]) == "<import:dpc-slack-api-url>"
    # Every state the tracker reports as a step is a step task of the deployed state machine.
    states = json.loads(render(machine["DefinitionString"]))["States"]
    step_states = json.loads(env[constants.ENV_PIPELINE_STEPS])
    assert sorted(step_states.values()) == ["aggregate", "export"]  # shown by their YAML names
    assert all(states[s]["Resource"].endswith("elasticmapreduce:addStep.sync") for s in step_states)


def test_tracker_may_publish_read_its_history_and_post_messages_only(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["every-channel"]
    _, tracker = _tracker(template)
    role = tracker["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [
        render(statement)
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = {a for s in statements for a in _list(s["Action"])}
    # X-Ray and its own log group: tests/infra/test_lambda_roles.py
    assert {a for a in actions if not a.startswith(("xray:", "logs:"))} == {
        "sns:Publish",
        "states:GetExecutionHistory",
        "execute-api:Invoke",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }
    # Lambda sends a failed asynchronous invocation to the on-failure queue with the
    # function's own role: the queue is the tracker's dead-letter queue and no other.
    send = next(s for s in statements if "sqs:SendMessage" in _list(s["Action"]))
    (queue_id,) = [
        logical_id
        for logical_id, queue in resources(template, "AWS::SQS::Queue").items()
        if queue["Properties"]["QueueName"] == "dpc-every-channel-tracker-dlq"
    ]
    assert send["Resource"] == f"<{queue_id}.Arn>"
    topic_id = next(iter(resources(template, "AWS::SNS::Topic")))
    publish = next(s for s in statements if "sns:Publish" in _list(s["Action"]))
    assert publish["Resource"] == f"<{topic_id}>"
    history = next(s for s in statements if "states:GetExecutionHistory" in _list(s["Action"]))
    assert history["Resource"] == (
        "arn:aws:states:eu-west-1:333333333333:execution:dpc-every-channel:*"
    )
    invoke = next(s for s in statements if "execute-api:Invoke" in _list(s["Action"]))
    assert _list(invoke["Resource"]) == [
        "arn:aws:execute-api:eu-west-1:<import:dpc-central-account>:*/*/POST/messages"
    ]


def test_slack_channels_are_registered_centrally_not_subscribed(
    templates: dict[str, dict[str, Any]],
) -> None:
    registration = only(templates["every-channel"], "Custom::DpcSlackChannels")["Properties"]
    assert registration["Pipeline"] == "every-channel"
    assert registration["Account"] == "333333333333"
    assert registration["Channels"] == ["data-pipeline-alerts", "#team-b"]


def test_pipeline_without_slack_neither_registers_channels_nor_may_call_the_slack_api(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["email-only"]
    _, tracker = _tracker(template)
    assert constants.ENV_SLACK_API_URL not in tracker["Properties"]["Environment"]["Variables"]
    assert resources(template, "Custom::DpcSlackChannels") == {}
    assert not any(
        "execute-api:Invoke" in _list(s["Action"]) for _, s in policy_statements(template)
    )


def test_pipeline_without_notifications_has_no_topic_and_no_tracker(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["quiet"]
    assert resources(template, "AWS::SNS::Topic") == {}
    assert resources(template, "AWS::Logs::SubscriptionFilter") == {}


def test_central_slack_api_routes_are_iam_authorised(central_template: dict[str, Any]) -> None:
    methods = resources(central_template, "AWS::ApiGateway::Method")
    routes = {}
    for method in methods.values():
        properties = method["Properties"]
        resource_id = properties["ResourceId"]["Ref"]
        path = central_template["Resources"][resource_id]["Properties"]["PathPart"]
        routes.setdefault(path, set()).add(
            (properties["HttpMethod"], properties["AuthorizationType"])
        )
    assert routes["messages"] == {("POST", "AWS_IAM")}
    assert {m for m, _ in routes["{name}"]} >= {"PUT", "DELETE"}
    assert all(auth == "AWS_IAM" for route in routes.values() for _, auth in route)


def test_poster_gets_the_token_by_reference_and_may_read_it(
    central_template: dict[str, Any],
) -> None:
    functions = resources(central_template, "AWS::Lambda::Function")
    _, poster = next(
        (k, f)
        for k, f in functions.items()
        if f["Properties"]["Handler"] == "dpc.lambdas.slack_poster.handler"
    )
    env = poster["Properties"]["Environment"]["Variables"]
    secret_id = next(iter(resources(central_template, "AWS::SecretsManager::Secret")))
    assert env[constants.ENV_SLACK_TOKEN_SECRET] == {"Ref": secret_id}
    assert {constants.ENV_SLACK_CHANNELS_TABLE, constants.ENV_SLACK_THREADS_TABLE} <= set(env)
    grants = [
        s
        for _, s in policy_statements(central_template)
        if "secretsmanager:GetSecretValue" in _list(s["Action"])
    ]
    assert grants and all(s["Resource"] == {"Ref": secret_id} for s in grants)
    publisher = next(
        f
        for f in functions.values()
        if f["Properties"]["Handler"] == "dpc.lambdas.slack_channel_publisher.handler"
    )
    publisher_env = publisher["Properties"]["Environment"]["Variables"]
    assert constants.ENV_SLACK_TOKEN_SECRET not in publisher_env


def test_poster_may_only_read_the_channels_and_keeps_its_threads(
    central_template: dict[str, Any],
) -> None:
    # Given the poster's role and the two Slack tables
    functions = resources(central_template, "AWS::Lambda::Function")
    poster = next(
        f
        for f in functions.values()
        if f["Properties"]["Handler"] == "dpc.lambdas.slack_poster.handler"
    )
    role = poster["Properties"]["Role"]["Fn::GetAtt"][0]
    env = poster["Properties"]["Environment"]["Variables"]
    channels = env[constants.ENV_SLACK_CHANNELS_TABLE]["Ref"]
    threads = env[constants.ENV_SLACK_THREADS_TABLE]["Ref"]

    def actions_on(table: str) -> set[str]:
        granted: set[str] = set()
        for logical_id, statement in policy_statements(central_template):
            document = central_template["Resources"][logical_id]["Properties"]
            if {"Ref": role} not in document.get("Roles", []):
                continue
            targets = json.dumps(statement.get("Resource"))
            if f'"{table}"' in targets:
                granted |= set(_list(statement["Action"]))
        return granted

    # Then it may look channels up but not change them, and may write its threads
    assert "dynamodb:GetItem" in actions_on(channels)
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    assert not actions_on(channels) & writes
    assert {"dynamodb:GetItem", "dynamodb:PutItem"} <= actions_on(threads)


def test_no_slack_token_in_any_template(
    templates: dict[str, dict[str, Any]],
    central_template: dict[str, Any],
    user_template: dict[str, Any],
) -> None:
    secret = only(central_template, "AWS::SecretsManager::Secret")["Properties"]
    assert "SecretString" not in secret  # the token is stored out of band, never synthesized
    for template in [*templates.values(), central_template, user_template]:
        assert not TOKEN_PATTERN.search(json.dumps(template))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_central_allow_list_reaches_the_publisher_and_the_poster() -> None:
    import aws_cdk as cdk
    from aws_cdk.assertions import Match, Template

    from dpc.infra.central import CentralStack

    # Given the data-platform team reserves two channels, one spelled with its "#"
    stack = CentralStack(
        cdk.App(),
        user_accounts=["111111111111", "222222222222"],
        slack_channel_owners={
            "#Shared-Alerts": ["222222222222", "111111111111"],
            "platform": ["999999999999"],
        },
    )
    # Then both Slack functions get it, as the channel names ownership is recorded under
    expected = '{"platform":["999999999999"],"shared-alerts":["111111111111","222222222222"]}'
    template = Template.from_stack(stack)
    for handler in ("slack_channel_publisher", "slack_poster"):
        template.has_resource_properties(
            "AWS::Lambda::Function",
            {
                "Handler": f"dpc.lambdas.{handler}.handler",
                "Environment": {
                    "Variables": Match.object_like({constants.ENV_SLACK_CHANNEL_OWNERS: expected})
                },
            },
        )


def test_channel_ownership_needs_transactions_for_the_publisher_and_reads_for_the_poster(
    central_template: dict[str, Any],
) -> None:
    functions = resources(central_template, "AWS::Lambda::Function")

    def actions_of(handler: str) -> set[str]:
        function = next(
            f
            for f in functions.values()
            if f["Properties"]["Handler"] == f"dpc.lambdas.{handler}.handler"
        )
        role = {"Ref": function["Properties"]["Role"]["Fn::GetAtt"][0]}
        table = function["Properties"]["Environment"]["Variables"][
            constants.ENV_SLACK_CHANNELS_TABLE
        ]["Ref"]
        granted: set[str] = set()
        for logical_id, statement in policy_statements(central_template):
            document = central_template["Resources"][logical_id]["Properties"]
            if role in document.get("Roles", []) and f'"{table}"' in json.dumps(
                statement.get("Resource")
            ):
                granted |= set(_list(statement["Action"]))
        return granted

    # The claims and the pipeline's entry change in one TransactWriteItems
    assert {
        "dynamodb:ConditionCheckItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchGetItem",
    } <= actions_of("slack_channel_publisher")
    # and the poster reads owners in one BatchGetItem, never writing them
    poster = actions_of("slack_poster")
    assert "dynamodb:BatchGetItem" in poster
    assert not poster & {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}


def test_a_slack_id_cannot_be_reserved() -> None:
    import aws_cdk as cdk

    from dpc.infra.central import CentralStack

    with pytest.raises(ValueError, match="C0123ABCD is not a channel name"):
        CentralStack(
            cdk.App(),
            user_accounts=["111111111111"],
            slack_channel_owners={"C0123ABCD": ["111111111111"]},
        )


def test_late_alerts_of_the_pipeline_reach_its_tracker_from_the_central_account_only(
    templates: dict[str, dict[str, Any]],
) -> None:
    from dpc.sandbox.patterns import matches

    template = templates["email-only"]
    tracker_id, _ = _tracker(template)
    (rule,) = [
        r["Properties"]
        for r in resources(template, "AWS::Events::Rule").values()
        if r["Properties"]["Name"] == "dpc-email-only-late"
    ]
    assert rule["EventBusName"] == constants.PIPELINE_BUS_NAME
    pattern = render(rule["EventPattern"])
    late = {
        "source": constants.LATE_ALERT_SOURCE,
        "detail-type": constants.LATE_DETAIL_TYPE,
        "account": "<import:dpc-central-account>",
        "detail": {"pipeline": "email-only", "account": "333333333333", "text": "late"},
    }
    assert matches(pattern, late)
    assert matches(pattern, {**late, "detail-type": constants.RECOVERED_DETAIL_TYPE})
    assert not matches(pattern, {**late, "account": "333333333333"})  # not the central account
    assert not matches(pattern, {**late, "detail": {**late["detail"], "pipeline": "other"}})
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [tracker_id, "Arn"]}
    (queue_id,) = [
        logical_id
        for logical_id, queue in resources(template, "AWS::SQS::Queue").items()
        if queue["Properties"]["QueueName"] == "dpc-email-only-tracker-dlq"
    ]
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 185
