"""The deploy service's CloudFormation conversation: change sets on moto, and what a user
sees when AWS rolls a stack back (CloudFormation's answers recorded with botocore's Stubber,
since moto never rolls back)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from dpc.infra.deploy import AssemblyStack, DeployError, DeployService, StackEvent

REGION = "eu-west-1"
TEMPLATE = {
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "dpc-test-queue"}}
    },
    "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}},
}


@pytest.fixture
def moto_session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
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
        tls_only_assets_bucket=False,
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


def test_template_hook_changes_only_what_is_deployed(
    moto_session: boto3.Session, tmp_path: Path
) -> None:
    def rename(template: dict[str, Any]) -> dict[str, Any]:
        return json.loads(json.dumps(template).replace("dpc-test-queue", "dpc-hooked-queue"))

    service = DeployService(
        session=moto_session,
        region=REGION,
        tls_only_assets_bucket=False,
        prepare_template=rename,
        poll_seconds=0,
    )
    stack = _stack(tmp_path, TEMPLATE)
    service.deploy(stack)
    queues = moto_session.client("sqs").list_queues()["QueueUrls"]
    assert any(url.endswith("/dpc-hooked-queue") for url in queues)
    assert "dpc-test-queue" in stack.template_file.read_text()  # the synthesized file is intact


def test_a_rollback_names_the_failing_resource_and_reason(tmp_path: Path) -> None:
    # Given CloudFormation answers for a stack whose table cannot be created
    session = boto3.Session(
        region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    service = DeployService(
        session=session, region=REGION, tls_only_assets_bucket=False, poll_seconds=0
    )
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
    service = DeployService(
        session=moto_session, region=REGION, tls_only_assets_bucket=False, poll_seconds=0
    )
    # When this account deploys, Then dpc refuses the bucket instead of uploading into it
    with pytest.raises(DeployError, match=f"{squatted} .*another AWS account"):
        service.deploy(_stack(tmp_path, TEMPLATE))
    assert squatter.list_objects_v2(Bucket=squatted).get("KeyCount", 0) == 0
    assert service.stack_status("dpc-test") is None
