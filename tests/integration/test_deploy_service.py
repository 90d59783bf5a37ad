"""The deploy service's CloudFormation conversation: change sets on the sandbox's endpoint,
and what a user sees when AWS rolls a stack back (CloudFormation's answers recorded with
botocore's Stubber, since moto never rolls back)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from dpc.infra.deploy import AssemblyStack, DeployError, DeployService, StackEvent
from dpc.sandbox.server import SandboxServer

REGION = "eu-west-1"
TEMPLATE = {
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "dpc-test-queue"}}
    },
    "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}},
}


ACCOUNT = "333333333333"


@pytest.fixture
def moto_session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    """A session of one account on the sandbox's endpoint (moto behind it)."""
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    with SandboxServer({"team": ACCOUNT}, REGION) as server:
        for name, value in server.environment(ACCOUNT).items():
            monkeypatch.setenv(name, value)
        yield boto3.Session(region_name=REGION)


def _stack(tmp_path: Path, template: dict[str, Any]) -> AssemblyStack:
    path = tmp_path / "stack.template.json"
    path.write_text(json.dumps(template))
    return AssemblyStack(name="dpc-test", template_file=path, assets=())


def test_change_set_creates_then_updates_the_stack(
    moto_session: boto3.Session, tmp_path: Path
) -> None:
    events: list[StackEvent] = []
    service = DeployService(
        session=moto_session,
        region=REGION,
        on_event=events.append,
        poll_seconds=0,
    )
    created = service.deploy(_stack(tmp_path, TEMPLATE))
    assert created.status == "CREATE_COMPLETE"
    assert [e.status for e in events][-1] == "CREATE_COMPLETE"
    queues = moto_session.client("sqs").list_queues()["QueueUrls"]
    assert any(url.endswith("/dpc-test-queue") for url in queues)

    renamed = json.loads(json.dumps(TEMPLATE).replace("dpc-test-queue", "dpc-other-queue"))
    updated = service.deploy(_stack(tmp_path, renamed))
    assert updated.status == "UPDATE_COMPLETE"


def test_the_endpoint_adapts_templates_and_imports_exports_through_change_sets(
    moto_session: boto3.Session, tmp_path: Path
) -> None:
    # Given a stack exporting a value, with a resource moto cannot create (dropped at the
    # endpoint, the synthesized file untouched)
    flow_log = {"Type": "AWS::EC2::FlowLog", "Properties": {"ResourceType": "VPC"}}
    exporter = {
        "Resources": {**TEMPLATE["Resources"], "FlowLog": flow_log},
        "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}, "Export": {"Name": "dpc-queue"}}},
    }
    service = DeployService(session=moto_session, region=REGION, poll_seconds=0)
    stack = _stack(tmp_path, exporter)
    assert service.deploy(stack).status == "CREATE_COMPLETE"
    assert "FlowLog" in stack.template_file.read_text()
    deployed = moto_session.client("cloudformation").get_template(StackName="dpc-test")
    assert "FlowLog" in deployed["TemplateBody"]["Metadata"]["DpcSandboxFixups"]

    # When a second stack imports it, through a change set as on AWS
    importer = {
        "Resources": {
            "Topic": {
                "Type": "AWS::SNS::Topic",
                "Properties": {"DisplayName": {"Fn::ImportValue": "dpc-queue"}},
            }
        }
    }
    path = tmp_path / "importer.template.json"
    path.write_text(json.dumps(importer))
    result = service.deploy(AssemblyStack(name="dpc-importer", template_file=path, assets=()))

    # Then it is created, and deploying it again unchanged changes nothing
    assert result.status == "CREATE_COMPLETE"
    again = service.deploy(AssemblyStack(name="dpc-importer", template_file=path, assets=()))
    assert not again.changed


def test_the_assets_bucket_is_tls_only_and_still_usable(
    moto_session: boto3.Session, tmp_path: Path
) -> None:
    service = DeployService(session=moto_session, region=REGION, poll_seconds=0)
    service.deploy(_stack(tmp_path, TEMPLATE))
    s3 = moto_session.client("s3")
    policy = json.loads(s3.get_bucket_policy(Bucket=service.assets_bucket)["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert s3.list_objects_v2(Bucket=service.assets_bucket)["KeyCount"] > 0


def test_a_rollback_names_the_failing_resource_and_reason(tmp_path: Path) -> None:
    # Given CloudFormation answers for a stack whose table cannot be created
    session = boto3.Session(
        region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    service = DeployService(session=session, region=REGION, poll_seconds=0)
    service._account = "333333333333"  # identity is not what this test is about
    now = datetime.now(UTC) + timedelta(minutes=1)
    stack_id = "arn:aws:cloudformation:eu-west-1:333333333333:stack/dpc-test/1"

    def event(n: int, logical_id: str, kind: str, status: str, reason: str = "") -> dict[str, Any]:
        return {
            "StackId": stack_id,
            "EventId": f"e{n}",
            "StackName": "dpc-test",
            "LogicalResourceId": logical_id,
            "ResourceType": kind,
            "Timestamp": now + timedelta(seconds=n),
            "ResourceStatus": status,
            "ResourceStatusReason": reason,
        }

    events = [
        event(1, "dpc-test", "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS"),
        event(2, "RunLog", "AWS::DynamoDB::Table", "CREATE_FAILED", "Table already exists: RunLog"),
        event(3, "Queue", "AWS::SQS::Queue", "CREATE_FAILED", "Resource creation cancelled"),
        event(4, "dpc-test", "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE"),
    ]
    s3 = Stubber(service.s3)
    bucket = "dpc-assets-333333333333-eu-west-1"
    s3.add_response("list_buckets", {"Buckets": [{"Name": bucket}]}, {"Prefix": bucket})
    s3.add_response(
        "put_object",
        {},
        {"Bucket": bucket, "Key": ANY, "Body": ANY, "ExpectedBucketOwner": "333333333333"},
    )
    cloudformation = Stubber(service.cloudformation)
    cloudformation.add_client_error(
        "describe_stacks", "ValidationError", "Stack with id dpc-test does not exist"
    )
    cloudformation.add_response("create_change_set", {"Id": "cs", "StackId": stack_id})
    cloudformation.add_response("describe_change_set", {"Status": "CREATE_COMPLETE"})
    cloudformation.add_response("execute_change_set", {})
    cloudformation.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "dpc-test",
                    "CreationTime": now,
                    "StackStatus": "ROLLBACK_COMPLETE",
                }
            ]
        },
    )
    newest_first = {"StackEvents": list(reversed(events))}
    cloudformation.add_response("describe_stack_events", newest_first)
    cloudformation.add_response("describe_stack_events", newest_first)

    # When it is deployed, then the error names the table and CloudFormation's reason
    with s3, cloudformation, pytest.raises(DeployError) as raised:
        service.deploy(_stack(tmp_path, TEMPLATE))
    message = str(raised.value)
    assert "ROLLBACK_COMPLETE" in message
    assert "RunLog (AWS::DynamoDB::Table): Table already exists: RunLog" in message


def _session_of(account: str) -> boto3.Session:
    """Credentials of another account, as moto hands them out for an assumed role."""
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/squatter", RoleSessionName="squatter"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )


def test_an_assets_bucket_created_first_by_another_account_is_refused(
    moto_session: boto3.Session, tmp_path: Path
) -> None:
    # Given another account took the name of this account's assets bucket and opened it up
    account = moto_session.client("sts").get_caller_identity()["Account"]
    squatted = f"dpc-assets-{account}-{REGION}"
    squatter = _session_of("999999999999").client("s3")
    squatter.create_bucket(
        Bucket=squatted, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    service = DeployService(session=moto_session, region=REGION, poll_seconds=0)
    # When this account deploys, Then dpc refuses the bucket instead of uploading into it
    with pytest.raises(DeployError, match=f"{squatted} .*another AWS account"):
        service.deploy(_stack(tmp_path, TEMPLATE))
    assert squatter.list_objects_v2(Bucket=squatted).get("KeyCount", 0) == 0
    assert service.stack_status("dpc-test") is None
