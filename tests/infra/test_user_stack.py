"""The user-account stack: pipeline bus, export rule, artifacts bucket, EMR, registration."""

from __future__ import annotations

from typing import Any

import pytest
from infra_helpers import ACCOUNT, as_list, only, policy_statements, render, resources, rule_named

from dpc.constants import EXPORT_RULE_NAME, PIPELINE_BUS_NAME
from dpc.sandbox.patterns import matches

pytestmark = pytest.mark.slow


def _status_change(state_machine: str) -> dict[str, Any]:
    return {
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "account": ACCOUNT,
        "detail": {
            "status": "SUCCEEDED",
            "stateMachineArn": f"arn:aws:states:eu-west-1:{ACCOUNT}:stateMachine:{state_machine}",
        },
    }


def test_export_rule_forwards_only_dpc_state_machines(user_template: dict[str, Any]) -> None:
    rule = rule_named(user_template, EXPORT_RULE_NAME)
    assert "EventBusName" not in rule  # the default bus
    pattern = render(rule["EventPattern"])
    assert matches(pattern, _status_change("dpc-pipeline-x"))
    assert not matches(pattern, _status_change("someone-elses-machine"))
    (target,) = rule["Targets"]
    assert (
        render(target["Arn"]) == "arn:aws:events:eu-west-1:999999999999:event-bus/dpc-central-bus"
    )
    assert "RoleArn" in target


def test_pipeline_bus_admits_the_central_account(user_template: dict[str, Any]) -> None:
    bus = only(user_template, "AWS::Events::EventBus")
    assert bus["Properties"]["Name"] == PIPELINE_BUS_NAME
    statement = only(user_template, "AWS::Events::EventBusPolicy")["Properties"]["Statement"]
    assert render(statement["Principal"]["AWS"]) == "arn:aws:iam::999999999999:root"
    assert statement["Action"] == "events:PutEvents"


def test_artifacts_bucket_is_private_encrypted_tls_only_and_expires_logs(
    user_template: dict[str, Any],
) -> None:
    buckets = resources(user_template, "AWS::S3::Bucket")
    ((bucket_id, bucket),) = [(i, b) for i, b in buckets.items() if "BucketName" in b["Properties"]]
    props = bucket["Properties"]
    # who read or wrote which object: server access logs, into a private bucket of their own
    logs_id = props["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
    assert logs_id != bucket_id and buckets[logs_id]["DeletionPolicy"] == "Retain"
    assert all(buckets[logs_id]["Properties"]["PublicAccessBlockConfiguration"].values())
    (delivery,) = [
        s
        for p in resources(user_template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": logs_id}
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow"
    ]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert render(delivery["Condition"]["StringEquals"]["aws:SourceAccount"]) == ACCOUNT
    assert render(props["BucketName"]) == f"dpc-artifacts-{ACCOUNT}-eu-west-1"
    assert bucket["DeletionPolicy"] == "Retain"
    assert all(props["PublicAccessBlockConfiguration"].values())
    sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    logs_rule = next(r for r in props["LifecycleConfiguration"]["Rules"] if r.get("Prefix"))
    assert logs_rule["Prefix"] == "logs/" and logs_rule["ExpirationInDays"] == 90
    for policy_of in (bucket_id, logs_id):  # both TLS only
        (policy,) = [
            p["Properties"]["PolicyDocument"]
            for p in resources(user_template, "AWS::S3::BucketPolicy").values()
            if p["Properties"]["Bucket"] == {"Ref": policy_of}
        ]
        assert [
            s
            for s in policy["Statement"]
            if s["Effect"] == "Deny"
            and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        ], policy_of


def test_emr_roles_have_the_names_pipelines_pass(user_template: dict[str, Any]) -> None:
    roles = resources(user_template, "AWS::IAM::Role")
    names = {r["Properties"].get("RoleName") for r in roles.values()}
    assert {"dpc-emr-service-role", "dpc-emr-autoscaling-role"} <= names
    # no account-wide cluster role: each pipeline brings its own (tests/infra/test_emr_security.py)
    assert not resources(user_template, "AWS::IAM::InstanceProfile")
    (service_id,) = [
        i for i, r in roles.items() if r["Properties"].get("RoleName") == "dpc-emr-service-role"
    ]
    passes = [
        render(s)
        for logical_id, s in policy_statements(user_template)
        if "iam:PassRole" in as_list(s["Action"])
        and {"Ref": service_id}
        in user_template["Resources"][logical_id]["Properties"].get("Roles", [])
    ]
    assert passes == [
        {
            "Sid": "PassPipelineClusterRoles",
            "Action": "iam:PassRole",
            "Effect": "Allow",
            "Resource": f"arn:aws:iam::{ACCOUNT}:role/dpc/emr-instance/*",
            "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
        }
    ]
    assert len(resources(user_template, "AWS::EC2::SecurityGroup")) == 3  # + service access


def test_exports_every_value_pipeline_stacks_import(user_template: dict[str, Any]) -> None:
    exported = {o["Export"]["Name"] for o in user_template["Outputs"].values() if "Export" in o}
    assert exported == {
        "dpc-artifacts-bucket-name",
        "dpc-emr-subnet-id",
        "dpc-emr-private-subnet-id",
        "dpc-emr-master-security-group-id",
        "dpc-emr-core-security-group-id",
        "dpc-emr-service-access-security-group-id",
        "dpc-emr-disk-key-arn",
        "dpc-emr-tls-certificates-arn",
        "dpc-registration-provider-arn",
        "dpc-slack-api-url",
        "dpc-central-account",
        "dpc-operator-topic-arn",
    }


def test_registration_provider_may_only_call_the_central_registration_routes(
    user_template: dict[str, Any],
) -> None:
    invoke = [
        s
        for _, s in policy_statements(user_template)
        if "execute-api:Invoke" in as_list(s["Action"])
    ]
    (statement,) = invoke
    assert sorted(render(as_list(statement["Resource"]))) == sorted(
        f"arn:aws:execute-api:eu-west-1:999999999999:*/*/{m}/{p}/*"
        for m in ("PUT", "DELETE")
        for p in ("pipelines", "channels")
    )


def test_no_wildcard_actions_and_no_star_resources_beyond_xray_and_listing_state_machines(
    user_template: dict[str, Any],
) -> None:
    for logical_id, statement in policy_statements(user_template):
        actions = as_list(statement["Action"])
        assert not any(a == "*" or a.endswith(":*") for a in actions), (logical_id, actions)
        if "*" in as_list(statement.get("Resource", [])):
            assert all(a.startswith("xray:") or a == "states:ListStateMachines" for a in actions), (
                logical_id,
                actions,
            )
