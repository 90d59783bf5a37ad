"""The central stack: bus and its policy, trigger manager, routes, tables, APIs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_helpers import (
    as_list,
    only,
    policy_statements,
    render,
    resources,
    rule_named,
)

from dpc.constants import (
    CENTRAL_BUS_NAME,
    LATE_ALERT_SOURCE,
    LATE_DETAIL_TYPE,
    LATE_SWEEP_MINUTES,
    LATE_SWEEP_RULE_NAME,
    LATE_SWEEPER_DLQ_NAME,
    OUTBOX_SWEEP_MINUTES,
    OUTBOX_SWEEP_RULE_NAME,
    OUTBOX_SWEEPER_DLQ_NAME,
    TRIGGER_DETAIL_TYPE,
    TRIGGER_EVENT_SOURCE,
)
from dpc.lambdas.tables import CENTRAL_TABLES, SLACK_TABLES, TRIGGER_STATE
from dpc.sandbox.patterns import matches
from dpc.triggers.engine import OUTBOX_LEASE

pytestmark = pytest.mark.slow

USER_ACCOUNTS = ("111111111111", "222222222222", "333333333333")
CENTRAL = {"AWS::AccountId": "999999999999", "AWS::Region": "eu-west-1", "AWS::Partition": "aws"}


def _trigger_event(account: str) -> dict[str, Any]:
    return {
        "source": TRIGGER_EVENT_SOURCE,
        "detail-type": TRIGGER_DETAIL_TYPE,
        "account": "999999999999",
        "detail": {"pipeline": "pipeline-x", "account": account, "trigger_id": "t", "causes": []},
    }


def test_bus_admits_exactly_the_listed_accounts(central_template: dict[str, Any]) -> None:
    assert only(central_template, "AWS::Events::EventBus")["Properties"]["Name"] == CENTRAL_BUS_NAME
    statements = [
        render(p["Properties"]["Statement"], CENTRAL)
        for p in resources(central_template, "AWS::Events::EventBusPolicy").values()
    ]
    principals = sorted(s["Principal"]["AWS"] for s in statements)
    assert principals == [f"arn:aws:iam::{a}:root" for a in USER_ACCOUNTS]
    for statement in statements:
        assert statement["Action"] == "events:PutEvents"
        assert statement["Resource"] == (
            f"arn:aws:events:eu-west-1:999999999999:event-bus/{CENTRAL_BUS_NAME}"
        )


def test_bus_of_an_organization_requires_its_org_id(org_central_template: dict[str, Any]) -> None:
    (policy,) = resources(org_central_template, "AWS::Events::EventBusPolicy").values()
    statement = policy["Properties"]["Statement"]
    assert statement["Principal"] == "*"
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}
    # no listed accounts: no route rules either
    assert not [
        r
        for r in resources(org_central_template, "AWS::Events::Rule").values()
        if r["Properties"]["Name"].startswith("dpc-route-to-")
    ]


def test_trigger_manager_rule_sends_status_changes_to_the_lambda_with_a_dlq(
    central_template: dict[str, Any],
) -> None:
    rule = rule_named(central_template, "trigger-events-manager")
    assert rule["EventBusName"] == CENTRAL_BUS_NAME  # by name (moto gap, DESIGN §8)
    status_change = {
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {"status": "SUCCEEDED"},
    }
    assert matches(rule["EventPattern"], status_change)
    assert not matches(rule["EventPattern"], _trigger_event("333333333333"))
    (target,) = rule["Targets"]
    assert "DeadLetterConfig" in target
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 24 * 3600
    function = central_template["Resources"][target["Arn"]["Fn::GetAtt"][0]]["Properties"]
    assert function["Handler"] == "dpc.lambdas.trigger_manager.handler"
    env = function["Environment"]["Variables"]
    assert env["EVENT_BUS_NAME"] == CENTRAL_BUS_NAME
    assert {t.env_var for t in CENTRAL_TABLES} <= set(env)


@pytest.mark.parametrize("account", USER_ACCOUNTS)
def test_each_account_gets_only_its_own_trigger_events(
    central_template: dict[str, Any], account: str
) -> None:
    rule = rule_named(central_template, f"dpc-route-to-{account}")
    assert rule["EventBusName"] == CENTRAL_BUS_NAME
    pattern = render(rule["EventPattern"], CENTRAL)
    assert matches(pattern, _trigger_event(account))
    others = [a for a in USER_ACCOUNTS if a != account]
    assert not any(matches(pattern, _trigger_event(o)) for o in others)
    # A listed account's own PutEvents of the same event (a forgery) is not forwarded
    for forger in USER_ACCOUNTS:
        assert not matches(pattern, {**_trigger_event(account), "account": forger})
    (target,) = rule["Targets"]
    assert render(target["Arn"], CENTRAL) == (
        f"arn:aws:events:eu-west-1:{account}:event-bus/dpc-pipeline-bus"
    )
    assert "RoleArn" in target


def test_route_rules_forward_only_the_central_accounts_own_events() -> None:
    import aws_cdk as cdk
    from aws_cdk.assertions import Match, Template

    from dpc.infra.central import CentralStack

    # Given a central stack deployed to a known account
    app = cdk.App()
    stack = CentralStack(
        app, user_accounts=USER_ACCOUNTS, env=cdk.Environment(account="999999999999")
    )
    # Then every route rule requires the envelope's account to be the central account
    template = Template.from_stack(stack)
    for account in USER_ACCOUNTS:
        template.has_resource_properties(
            "AWS::Events::Rule",
            {
                "Name": f"dpc-route-to-{account}",
                "EventPattern": Match.object_like(
                    {"account": ["999999999999"], "detail": {"account": [account]}}
                ),
            },
        )


def test_tables_follow_their_descriptions_and_survive_stack_deletion(
    central_template: dict[str, Any],
) -> None:
    tables = resources(central_template, "AWS::DynamoDB::Table")
    assert len(tables) == len(CENTRAL_TABLES + SLACK_TABLES)
    for spec in CENTRAL_TABLES + SLACK_TABLES:
        (table,) = [t for lid, t in tables.items() if lid.startswith(f"Tables{spec.logical_id}")]
        props = table["Properties"]
        keys = [k["AttributeName"] for k in props["KeySchema"]]
        assert keys == [spec.partition_key.name] + ([spec.sort_key.name] if spec.sort_key else [])
        indexes = props.get("GlobalSecondaryIndexes", []) + props.get("LocalSecondaryIndexes", [])
        assert sorted(i["IndexName"] for i in indexes) == sorted(i.name for i in spec.indexes)
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
        assert props["SSESpecification"]["SSEEnabled"]
        assert table["DeletionPolicy"] == "Retain"
        assert props["DeletionProtectionEnabled"] is True  # nor deleted by hand by mistake
        if spec.ttl_attribute:
            assert props["TimeToLiveSpecification"]["AttributeName"] == spec.ttl_attribute


def test_apis_require_iam_auth_and_admit_only_the_listed_accounts(
    central_template: dict[str, Any],
) -> None:
    methods = resources(central_template, "AWS::ApiGateway::Method")
    verbs = sorted(m["Properties"]["HttpMethod"] for m in methods.values())
    assert verbs == ["DELETE", "DELETE", "POST", "PUT", "PUT"]
    assert all(m["Properties"]["AuthorizationType"] == "AWS_IAM" for m in methods.values())
    for api in resources(central_template, "AWS::ApiGateway::RestApi").values():
        (statement,) = api["Properties"]["Policy"]["Statement"]
        principals = sorted(render(p, CENTRAL) for p in as_list(statement["Principal"]["AWS"]))
        assert principals == [f"arn:aws:iam::{a}:root" for a in USER_ACCOUNTS]


def test_slack_token_lives_in_secrets_manager_only(central_template: dict[str, Any]) -> None:
    secret = only(central_template, "AWS::SecretsManager::Secret")
    assert secret["Properties"]["Name"] == "dpc/slack-token"
    assert "SecretString" not in secret["Properties"]
    poster = next(
        f["Properties"]
        for f in resources(central_template, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "dpc.lambdas.slack_poster.handler"
    )
    assert "DPC_SLACK_TOKEN_SECRET_ID" in poster["Environment"]["Variables"]


def test_no_wildcard_actions_and_no_star_resources_beyond_xray(
    central_template: dict[str, Any],
) -> None:
    for logical_id, statement in policy_statements(central_template):
        actions = as_list(statement["Action"])
        assert not any(a == "*" or a.endswith(":*") for a in actions), (logical_id, actions)
        if "*" in as_list(statement.get("Resource", [])):
            assert all(a.startswith("xray:") for a in actions), (logical_id, actions)


def test_the_trigger_managers_dead_letter_queue_survives_stack_deletion(
    central_template: dict[str, Any],
) -> None:
    queues = resources(central_template, "AWS::SQS::Queue")
    assert queues and {q["DeletionPolicy"] for q in queues.values()} == {"Retain"}


def _function_with_handler(template: dict[str, Any], handler: str) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (logical_id, f["Properties"])
        for logical_id, f in resources(template, "AWS::Lambda::Function").items()
        if f["Properties"]["Handler"] == handler
    ]
    return found


def test_the_outbox_sweep_runs_on_a_schedule_and_keeps_its_failures(
    central_template: dict[str, Any],
) -> None:
    sweeper_id, sweeper = _function_with_handler(
        central_template, "dpc.lambdas.outbox_sweeper.handler"
    )
    assert set(sweeper["Environment"]["Variables"]) == {
        TRIGGER_STATE.env_var,
        "EVENT_BUS_NAME",
    }
    (queue_id,) = [
        lid
        for lid, q in resources(central_template, "AWS::SQS::Queue").items()
        if q["Properties"].get("QueueName") == OUTBOX_SWEEPER_DLQ_NAME
    ]
    queue = central_template["Resources"][queue_id]
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["DeletionPolicy"] == "Retain"
    # Every 15 minutes; a delivery the rule cannot make is retried, then parked in the queue
    rule = rule_named(central_template, OUTBOX_SWEEP_RULE_NAME)
    assert rule["ScheduleExpression"] == "rate(15 minutes)"
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [sweeper_id, "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 185
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    # an invocation that fails is retried twice by Lambda, then sent to the same queue
    (invoke_config,) = [
        c["Properties"]
        for c in resources(central_template, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": sweeper_id}
    ]
    assert invoke_config["MaximumRetryAttempts"] == 2
    assert invoke_config["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [queue_id, "Arn"]
    }
    # and only TLS reaches the queue
    (queue_policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in resources(central_template, "AWS::SQS::QueuePolicy").values()
        if {"Ref": queue_id} in p["Properties"]["Queues"]
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in queue_policy
    )


def test_the_outbox_sweeper_may_only_query_the_outbox_index_claim_and_publish(
    central_template: dict[str, Any],
) -> None:
    sweeper_id, _ = _function_with_handler(central_template, "dpc.lambdas.outbox_sweeper.handler")
    role_id = central_template["Resources"][sweeper_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    granted = {
        (action, json.dumps(render(resource, CENTRAL)))
        for logical_id, statement in policy_statements(central_template)
        if {"Ref": role_id}
        in central_template["Resources"][logical_id]["Properties"].get("Roles", [])
        for action in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
        if not action.startswith(("xray:", "logs:"))  # tests/infra/test_lambda_roles.py
    }
    (table_id,) = [
        lid
        for lid in resources(central_template, "AWS::DynamoDB::Table")
        if lid.startswith("TablesTriggerState")
    ]
    (queue_id,) = [
        lid
        for lid, q in resources(central_template, "AWS::SQS::Queue").items()
        if q["Properties"].get("QueueName") == OUTBOX_SWEEPER_DLQ_NAME
    ]
    (bus_id,) = resources(central_template, "AWS::Events::EventBus")
    assert granted == {
        ("dynamodb:Query", json.dumps(f"<{table_id}.Arn>/index/outbox-by-age")),
        ("dynamodb:UpdateItem", json.dumps(f"<{table_id}.Arn>")),
        ("events:PutEvents", json.dumps(f"<{bus_id}.Arn>")),
        ("sqs:SendMessage", json.dumps(f"<{queue_id}.Arn>")),
        ("sqs:GetQueueAttributes", json.dumps(f"<{queue_id}.Arn>")),
        ("sqs:GetQueueUrl", json.dumps(f"<{queue_id}.Arn>")),
    }


def test_the_outbox_lease_outlasts_the_trigger_manager_and_fits_between_sweeps(
    central_template: dict[str, Any],
) -> None:
    # A live trigger manager never sees its own trigger taken over; a sweep still finds
    # every stale entry by the next run
    _, manager = _function_with_handler(central_template, "dpc.lambdas.trigger_manager.handler")
    _, sweeper = _function_with_handler(central_template, "dpc.lambdas.outbox_sweeper.handler")
    lease = OUTBOX_LEASE.total_seconds()
    assert manager["Timeout"] < lease and sweeper["Timeout"] < lease
    assert lease < OUTBOX_SWEEP_MINUTES * 60


def test_only_the_trigger_manager_may_invoke_itself_for_its_fan_out_chunks(
    central_template: dict[str, Any],
) -> None:
    manager_id, _ = _function_with_handler(central_template, "dpc.lambdas.trigger_manager.handler")
    role_id = central_template["Resources"][manager_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    invokers = {
        (logical_id, json.dumps(render(resource, CENTRAL)))
        for logical_id, statement in policy_statements(central_template)
        if "lambda:InvokeFunction" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    }
    (policy_id,) = {logical_id for logical_id, _ in invokers}
    roles = central_template["Resources"][policy_id]["Properties"]["Roles"]
    # its own function, by its role alone
    assert {resource for _, resource in invokers} == {json.dumps(f"<{manager_id}.Arn>")}
    assert roles == [{"Ref": role_id}]


def _table_actions(template: dict[str, Any], handler: str) -> dict[str, set[str]]:
    """DynamoDB actions a function's role has, by table logical-id prefix."""
    function_id, _ = _function_with_handler(template, handler)
    role_id = template["Resources"][function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    tables = resources(template, "AWS::DynamoDB::Table")
    granted: dict[str, set[str]] = {}
    for logical_id, statement in policy_statements(template):
        if {"Ref": role_id} not in template["Resources"][logical_id]["Properties"].get("Roles", []):
            continue
        for resource in as_list(statement["Resource"]):
            text = json.dumps(resource)
            for table_id in tables:
                if f'"{table_id}"' in text:
                    name = next(
                        t.logical_id
                        for t in CENTRAL_TABLES
                        if table_id.startswith(f"Tables{t.logical_id}")
                    )
                    granted.setdefault(name, set()).update(
                        a for a in as_list(statement["Action"]) if a.startswith("dynamodb:")
                    )
    return granted


def test_the_trigger_manager_only_reads_the_registry_and_the_publisher_never_sees_runs(
    central_template: dict[str, Any],
) -> None:
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    manager = _table_actions(central_template, "dpc.lambdas.trigger_manager.handler")
    assert not manager["Dependencies"] & writes
    assert "dynamodb:Query" in manager["Dependencies"]
    assert writes <= manager["RunLog"] and writes <= manager["TriggerState"]
    publisher = _table_actions(central_template, "dpc.lambdas.dependencies_publisher.handler")
    assert set(publisher) == {"Dependencies", "TriggerState"}


def _late_event(account: str, sender: str = "999999999999") -> dict[str, Any]:
    return {
        "source": LATE_ALERT_SOURCE,
        "detail-type": LATE_DETAIL_TYPE,
        "account": sender,
        "detail": {"pipeline": "pipeline-x", "account": account, "text": "late"},
    }


@pytest.mark.parametrize("account", USER_ACCOUNTS)
def test_route_rules_carry_each_accounts_late_alerts_too(
    central_template: dict[str, Any], account: str
) -> None:
    rule = rule_named(central_template, f"dpc-route-to-{account}")
    pattern = render(rule["EventPattern"], CENTRAL)
    assert matches(pattern, _late_event(account))
    assert not any(matches(pattern, _late_event(o)) for o in USER_ACCOUNTS if o != account)
    assert not matches(pattern, _late_event(account, sender=account))  # a forgery


def test_the_late_alert_sweep_runs_every_few_minutes_and_keeps_its_failures(
    central_template: dict[str, Any],
) -> None:
    sweeper_id, _ = _function_with_handler(central_template, "dpc.lambdas.late_alerts.handler")
    (queue_id,) = [
        lid
        for lid, q in resources(central_template, "AWS::SQS::Queue").items()
        if q["Properties"].get("QueueName") == LATE_SWEEPER_DLQ_NAME
    ]
    rule = rule_named(central_template, LATE_SWEEP_RULE_NAME)
    assert rule["ScheduleExpression"] == f"rate({LATE_SWEEP_MINUTES} minutes)"
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [sweeper_id, "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    (invoke_config,) = [
        c["Properties"]
        for c in resources(central_template, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": sweeper_id}
    ]
    assert invoke_config["MaximumRetryAttempts"] == 2
    assert invoke_config["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [queue_id, "Arn"]
    }
    # its queue and its errors are alarmed on, as every async hop's
    alarmed = json.dumps(resources(central_template, "AWS::CloudWatch::Alarm"))
    assert queue_id in alarmed and sweeper_id in alarmed


def test_the_late_alert_sweeper_reads_the_registry_and_runs_and_writes_only_its_items(
    central_template: dict[str, Any],
) -> None:
    sweeper_id, _ = _function_with_handler(central_template, "dpc.lambdas.late_alerts.handler")
    role_id = central_template["Resources"][sweeper_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    granted: dict[str, set[str]] = {}
    for logical_id, statement in policy_statements(central_template):
        if {"Ref": role_id} not in central_template["Resources"][logical_id]["Properties"].get(
            "Roles", []
        ):
            continue
        for action in as_list(statement["Action"]):
            if action.startswith(("xray:", "logs:", "sqs:", "secretsmanager:")):
                continue
            for resource in as_list(statement["Resource"]):
                granted.setdefault(json.dumps(render(resource, CENTRAL)), set()).add(action)

    def table(prefix: str) -> str:
        (found,) = [
            lid
            for lid in resources(central_template, "AWS::DynamoDB::Table")
            if lid.startswith(f"Tables{prefix}")
        ]
        return f"<{found}.Arn>"

    (bus_id,) = resources(central_template, "AWS::Events::EventBus")
    assert granted == {
        json.dumps(table("Dependencies")): {"dynamodb:Query", "dynamodb:GetItem"},
        json.dumps(table("RunLog") + "/index/by-start"): {"dynamodb:Query"},
        json.dumps(table("TriggerState")): {
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:Query",
            "dynamodb:ConditionCheckItem",
        },
        json.dumps(table("SlackChannels")): {"dynamodb:GetItem", "dynamodb:BatchGetItem"},
        json.dumps(table("SlackThreads")): {
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        },
        json.dumps(f"<{bus_id}.Arn>"): {"events:PutEvents"},
    }
