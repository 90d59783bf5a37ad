"""What the sandbox reads back from deployed templates and runs itself: custom resources
(Create / Update / Delete, as CloudFormation would send them) and REST API routes (served
locally, the caller's account taken from its signature, the API's resource policy enforced).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from dpc.lambdas import sigv4
from dpc.sandbox.gateway import rest_apis
from dpc.sandbox.sandbox import Sandbox
from dpc.sandbox.template_fixups import DROPPED_METADATA
from dpc.sandbox.templates import DeployedStack

A, B, CENTRAL = "111111111111", "222222222222", "999999999999"
ACCOUNTS = {"central": CENTRAL, "A": A, "B": B}


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(accounts=ACCOUNTS, work_dir=tmp_path / "work") as running:
        yield running


def _function(handler: str, record_file: Path) -> dict[str, Any]:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    return {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}},
        "Fn": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Handler": handler,
                "Runtime": "python3.12",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": {"ZipFile": "unused: the sandbox runs the handler in-process"},
                "Environment": {"Variables": {"RECORD_FILE": str(record_file)}},
            },
        },
    }


def _deploy(sandbox: Sandbox, account: str, name: str, resources: dict[str, Any]) -> None:
    cloudformation = sandbox.client(account, "cloudformation")
    body = json.dumps({"Resources": resources})
    exists = any(
        s["StackName"] == name and s["StackStatus"] != "DELETE_COMPLETE"
        for s in cloudformation.list_stacks()["StackSummaries"]
    )
    deploy = cloudformation.update_stack if exists else cloudformation.create_stack
    deploy(StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_IAM"])


def _records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _thing(name: str, fail: str = "no") -> dict[str, Any]:
    return {
        "Type": "Custom::Thing",
        "Properties": {
            "ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]},
            "Name": {"Fn::Sub": "${AWS::AccountId}-" + name},
            "Fail": fail,
        },
    }


def test_custom_resources_get_create_update_and_delete_with_resolved_properties(sandbox, tmp_path):
    records = tmp_path / "requests.jsonl"
    resources = _function("sandbox_custom_resource.handler", records)

    _deploy(sandbox, A, "things", {**resources, "Thing": _thing("one")})
    _deploy(sandbox, A, "things", {**resources, "Thing": _thing("two")})
    _deploy(sandbox, A, "things", resources)

    create, update, delete = _records(records)
    assert create["RequestType"] == "Create"
    assert create["ResourceType"] == "Custom::Thing"
    assert create["ResourceProperties"]["Name"] == f"{A}-one"
    assert create["ServiceToken"].startswith(f"arn:aws:lambda:eu-west-1:{A}:function:")
    assert update["RequestType"] == "Update"
    assert update["ResourceProperties"]["Name"] == f"{A}-two"
    assert update["OldResourceProperties"]["Name"] == f"{A}-one"
    assert update["PhysicalResourceId"] == f"thing-{A}-one"
    assert delete["RequestType"] == "Delete"
    assert delete["PhysicalResourceId"] == f"thing-{A}-two"


def test_an_unchanged_custom_resource_gets_no_request(sandbox, tmp_path):
    records = tmp_path / "requests.jsonl"
    resources = {**_function("sandbox_custom_resource.handler", records), "Thing": _thing("one")}
    _deploy(sandbox, A, "things", resources)

    # When the stack is updated around it
    other = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "other"}}
    _deploy(sandbox, A, "things", {**resources, "Other": other})

    assert len(_records(records)) == 1


def test_a_failed_custom_resource_rolls_the_new_stack_back_with_its_reason(sandbox, tmp_path):
    records = tmp_path / "requests.jsonl"
    resources = _function("sandbox_custom_resource.handler", records)

    with pytest.raises(ClientError, match="asked to fail"):
        _deploy(sandbox, A, "things", {**resources, "Thing": _thing("one", fail="yes")})

    # and the stack is gone, so the deploy can simply be retried
    assert not [
        s
        for s in sandbox.client(A, "cloudformation").list_stacks()["StackSummaries"]
        if s["StackName"] == "things" and s["StackStatus"] != "DELETE_COMPLETE"
    ]
    _deploy(sandbox, A, "things", {**resources, "Thing": _thing("one")})


def test_deleting_a_stack_sends_its_custom_resources_their_delete(sandbox, tmp_path):
    # Given a stack with a custom resource, created
    records = tmp_path / "requests.jsonl"
    resources = {**_function("sandbox_custom_resource.handler", records), "Thing": _thing("one")}
    _deploy(sandbox, A, "things", resources)

    # When the stack is deleted (as `dpc destroy` does: DeleteStack, nothing else)
    sandbox.client(A, "cloudformation").delete_stack(StackName="things")

    # Then the handler got the Delete of what it created, and the stack is gone
    create, delete = _records(records)
    assert create["RequestType"] == "Create"
    assert delete["RequestType"] == "Delete"
    assert delete["PhysicalResourceId"] == f"thing-{A}-one"
    assert not [
        s
        for s in sandbox.client(A, "cloudformation").list_stacks()["StackSummaries"]
        if s["StackName"] == "things" and s["StackStatus"] != "DELETE_COMPLETE"
    ]


def test_a_failed_delete_leaves_the_stack_delete_failed_with_its_reason(sandbox, tmp_path):
    # Given a custom resource whose handler fails its Delete
    records = tmp_path / "requests.jsonl"
    thing = _thing("one")
    thing["Properties"]["FailOn"] = "Delete"
    _deploy(
        sandbox,
        A,
        "things",
        {**_function("sandbox_custom_resource.handler", records), "Thing": thing},
    )
    cloudformation = sandbox.client(A, "cloudformation")

    # When the stack is deleted
    cloudformation.delete_stack(StackName="things")

    # Then, as on AWS, the stack stays, DELETE_FAILED, the handler's reason in its events
    (stack,) = cloudformation.describe_stacks(StackName="things")["Stacks"]
    assert stack["StackStatus"] == "DELETE_FAILED"
    reasons = [
        e.get("ResourceStatusReason", "")
        for e in cloudformation.describe_stack_events(StackName="things")["StackEvents"]
        if e["ResourceStatus"] == "DELETE_FAILED"
    ]
    assert any("asked to fail" in reason for reason in reasons)


def _api(record_file: Path) -> dict[str, Any]:
    invoke = "execute-api:/*/*/items/*"
    return {
        **_function("sandbox_recorder.handler", record_file),
        "Api": {
            "Type": "AWS::ApiGateway::RestApi",
            "Properties": {
                "Name": "items-api",
                "Policy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {
                                "AWS": {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::{A}:root"}
                            },
                            "Action": "execute-api:Invoke",
                            "Resource": invoke,
                        }
                    ],
                },
            },
        },
        "Items": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {
                "ParentId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
                "PathPart": "items",
                "RestApiId": {"Ref": "Api"},
            },
        },
        "Item": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {
                "ParentId": {"Ref": "Items"},
                "PathPart": "{name}",
                "RestApiId": {"Ref": "Api"},
            },
        },
        "PutItem": {
            "Type": "AWS::ApiGateway::Method",
            "Properties": {
                "HttpMethod": "PUT",
                "ResourceId": {"Ref": "Item"},
                "RestApiId": {"Ref": "Api"},
                "AuthorizationType": "AWS_IAM",
                "Integration": {
                    "Type": "AWS_PROXY",
                    "IntegrationHttpMethod": "POST",
                    "Uri": {
                        "Fn::Join": [
                            "",
                            [
                                "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/",
                                {"Fn::GetAtt": ["Fn", "Arn"]},
                                "/invocations",
                            ],
                        ]
                    },
                },
            },
        },
        "Stage": {
            "Type": "AWS::ApiGateway::Stage",
            "Properties": {"StageName": "v1", "RestApiId": {"Ref": "Api"}},
        },
    }


@pytest.fixture
def served_api(sandbox: Sandbox, tmp_path: Path) -> tuple[str, Path]:
    """A REST API deployed to the central account (moto keeps it aside), served locally."""
    records = tmp_path / "calls.jsonl"
    _deploy(sandbox, CENTRAL, "api", _api(records))
    stack = DeployedStack(sandbox.client(CENTRAL, "cloudformation"), "api", CENTRAL, "eu-west-1")
    dropped = stack.template["Metadata"][DROPPED_METADATA]
    assert "Api" not in stack.resources and "Api" in dropped  # moto never saw the API
    (api,) = rest_apis(stack, {**stack.resources, **dropped})
    return sandbox.gateway.register(api), records


def test_a_signed_call_reaches_the_route_s_lambda_with_the_caller_s_account(sandbox, served_api):
    url, records = served_api
    response = sigv4.call(
        "PUT", f"{url}items/alpha", {"size": 3}, session=sandbox.server.session(A)
    )

    assert response.status == 200
    (call,) = _records(records)
    event = call["event"]
    assert event["httpMethod"] == "PUT"
    assert event["resource"] == "/items/{name}"
    assert event["pathParameters"] == {"name": "alpha"}
    assert json.loads(event["body"]) == {"size": 3}
    assert event["requestContext"]["identity"]["accountId"] == A
    assert call["ran_as"] == CENTRAL


def test_an_account_outside_the_api_policy_is_refused(sandbox, served_api):
    url, records = served_api
    with pytest.raises(sigv4.SignedCallError, match="403"):
        sigv4.call("PUT", f"{url}items/alpha", {"size": 3}, session=sandbox.server.session(B))
    assert _records(records) == []


def test_a_path_without_a_route_is_not_found(sandbox, served_api):
    url, _ = served_api
    with pytest.raises(sigv4.SignedCallError, match="404"):
        sigv4.call("DELETE", f"{url}items/alpha", None, session=sandbox.server.session(A))


def test_a_stack_output_naming_the_api_is_the_url_the_sandbox_serves_it_at(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # Given a stack whose output is its REST API's URL, as the central stack's is
    resources = _api(tmp_path / "calls.jsonl")
    url = {
        "Fn::Join": [
            "",
            [
                "https://",
                {"Ref": "Api"},
                ".execute-api.eu-west-1.amazonaws.com/",
                {"Ref": "Stage"},
                "/",
            ],
        ]
    }
    cloudformation = sandbox.client(CENTRAL, "cloudformation")
    cloudformation.create_stack(
        StackName="api",
        TemplateBody=json.dumps({"Resources": resources, "Outputs": {"ApiUrl": {"Value": url}}}),
        Capabilities=["CAPABILITY_IAM"],
    )
    # When any client reads the stack's outputs (`dpc setup-central-account` prints them)
    (stack,) = cloudformation.describe_stacks(StackName="api")["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    # Then the URL is the sandbox's, where the API answers
    api_name = resources["Api"]["Properties"]["Name"]
    assert outputs == {"ApiUrl": sandbox.gateway.url_of(CENTRAL, api_name, "v1")}
