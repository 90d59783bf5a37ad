"""The central stack: bus and its policy, trigger manager, routes, tables, APIs."""

from __future__ import annotations

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

from dpc.constants import CENTRAL_BUS_NAME, TRIGGER_DETAIL_TYPE, TRIGGER_EVENT_SOURCE
from dpc.lambdas.tables import CENTRAL_TABLES, SLACK_TABLES
from dpc.sandbox.patterns import matches

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
