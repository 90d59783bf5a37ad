"""Bad input to the central APIs answers 400 with a one-line message (issue 12, item 6).

API Gateway turns an exception escaping a Lambda proxy handler into a bare 502 that tells
the caller nothing (and `dpc deploy` prints it as the reason a stack failed). Each API gets
the table of bad inputs it must refuse, sent to its real handler over moto, and the rules
are the schema's: a pipeline name that pipeline.yaml would refuse is refused here too.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from conftest import Central, api_event
from moto import mock_aws

from dpc.lambdas.central import LocalCentral, state_machine_arn
from dpc.lambdas.dependencies_publisher import DependenciesPublisher
from dpc.triggers.model import ParentRef

X = ParentRef("pipeline-x", "333333333333")
ARN = "arn:aws:states:eu-west-1:111111111111:execution:dpc-listings:listings-2026-11-27"
TOO_LONG_NAME = "a" * 60  # fits the schema's 63 characters, not dpc's deployable names
DEEP = "[" * 50_000  # under the size bound; json.loads raises RecursionError on it
HUGE = 10**20  # seconds: past what timedelta holds (OverflowError)


def status_and_message(reply: dict[str, Any]) -> tuple[int, str]:
    return int(reply["statusCode"]), str(json.loads(reply["body"]).get("message", ""))


# -- the dependency-management API (dependencies publisher) ------------------------------


@pytest.fixture
def dependencies_api(aws_env: None) -> Iterator[DependenciesPublisher]:
    with mock_aws():
        central = LocalCentral.create(boto3.client("dynamodb"), boto3.client("events"))
        yield DependenciesPublisher(central.registry)


def put_pipeline(
    body: Any = None, name: str = X.name, account: str = X.account, raw: str | None = None
) -> dict[str, Any]:
    payload = {"stateMachineArn": state_machine_arn(ParentRef(name, account)), **(body or {})}
    return {
        "httpMethod": "PUT",
        "pathParameters": {"account": account, "name": name},
        "requestContext": {"identity": {"accountId": account}},
        "body": raw if raw is not None else json.dumps(payload),
        "isBase64Encoded": False,
    }


def parents(count: int) -> dict[str, Any]:
    items = [
        {"name": f"p-{n}", "account": "111111111111", "status": ["SUCCEEDED"]} for n in range(count)
    ]
    return {"allOf": items}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (put_pipeline(name="Pipeline-X"), "path: 'Pipeline-X' is not a pipeline name"),
        (put_pipeline(name=TOO_LONG_NAME), f"path: '{TOO_LONG_NAME}' is 60 characters"),
        (put_pipeline(account="42"), "path: '42' is not an account id (allowed: exactly 12 digits"),
        (put_pipeline(raw="{not json"), "the body is not JSON"),
        (put_pipeline(raw=DEEP), "the body is not JSON"),
        (
            put_pipeline(raw=json.dumps({"x": "y" * 300_000})),
            "the body is 300009 bytes; at most 65536 allowed",
        ),
        (put_pipeline(raw="[]"), "the body must be a JSON object"),
        (
            put_pipeline({"condition": {**parents(1), "withinSeconds": HUGE}}),
            "condition.withinSeconds: at most 31536000 (365 days)",
        ),
        (
            put_pipeline({"condition": {**parents(1), "correlate": "period", "keepSeconds": HUGE}}),
            "condition.keepSeconds: at most 31622400 (366 days)",
        ),
        (
            put_pipeline({"period": {"unit": "day", "offsetSeconds": HUGE}}),
            "period.offsetSeconds: at most 31622400 (366 days) either way",
        ),
        (
            put_pipeline(
                {
                    "condition": {
                        "allOf": [
                            {"name": "Bad Name", "account": "111111111111", "status": ["SUCCEEDED"]}
                        ]
                    }
                }
            ),
            "condition.allOf[0].name: 'Bad Name' is not a pipeline name",
        ),
        (put_pipeline({"condition": parents(120)}), "condition: 120 parents; at most"),
        (put_pipeline({"schedule": ["cron(0 3 * * ? *)"]}), "schedule must be a string"),
        (put_pipeline({"schedule": "x" * 300}), "schedule: at most 256 characters"),
        (put_pipeline({"stateMachineArn": 7}), "stateMachineArn must name dpc-pipeline-x"),
        (
            put_pipeline(
                {
                    "condition": {
                        "allOf": [
                            {"name": "listings", "account": "111111111111", "status": ["DONE"]}
                        ]
                    }
                }
            ),
            "condition.allOf[0].status: 'DONE' is not one of",
        ),
    ],
    ids=lambda value: "" if isinstance(value, dict) else str(value)[:40],
)
def test_the_dependency_api_answers_bad_input_with_a_400(
    dependencies_api: DependenciesPublisher, event: dict[str, Any], expected: str
) -> None:
    status, message = status_and_message(dependencies_api.handle(event))
    assert status == 400
    assert message.startswith(expected), message
    assert "\n" not in message


def test_input_that_raised_on_main_is_now_a_400(dependencies_api: DependenciesPublisher) -> None:
    # A withinSeconds past timedelta's range raised OverflowError out of the handler (502)
    event = put_pipeline({"condition": {**parents(1), "withinSeconds": HUGE}})
    assert dependencies_api.handle(event)["statusCode"] == 400
    # and so did a condition with more parents than one DynamoDB transaction holds
    assert dependencies_api.handle(put_pipeline({"condition": parents(120)}))["statusCode"] == 400


def test_a_base64_encoded_body_is_read(dependencies_api: DependenciesPublisher) -> None:
    event = put_pipeline()
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    assert dependencies_api.handle(event)["statusCode"] == 200


# -- the Slack API (channel publisher and poster) ----------------------------------------


@pytest.fixture
def slack(slack_aws: Any, fake_slack: Any) -> Central:
    return Central(slack_aws, fake_slack)


def channels_event(
    name: str = "listings", account: str = "111111111111", raw: str | None = None
) -> dict[str, Any]:
    event = api_event("PUT", account, {"channels": ["alerts"]}, {"account": account, "name": name})
    if raw is not None:
        event["body"] = raw
    return event


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (channels_event(name="Listings"), "path: 'Listings' is not a pipeline name"),
        (channels_event(name="a" * 3000), "path: 'aaaaaaaaaaaaaaaaaaaa…' is 3000 characters"),
        (channels_event(account="abc"), "path: 'abc' is not an account id"),
        (channels_event(raw=DEEP), "the body is not JSON"),
        (
            channels_event(raw=json.dumps({"channels": ["a" * 300_000]})),
            "the body is 300018 bytes; at most 65536 allowed",
        ),
    ],
    ids=lambda value: "" if isinstance(value, dict) else str(value)[:40],
)
def test_the_channels_api_answers_bad_input_with_a_400(
    slack: Central, event: dict[str, Any], expected: str
) -> None:
    status, message = status_and_message(slack.publisher.handle(event))
    assert status == 400
    assert message.startswith(expected), message


def message_event(raw: str | None = None, **fields: Any) -> dict[str, Any]:
    body = {"pipeline": "listings", "execution": ARN, "status": "RUNNING", "text": "hi", **fields}
    event = api_event("POST", "111111111111", body)
    if raw is not None:
        event["body"] = raw
    return event


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (message_event(pipeline="Listings!"), "pipeline: 'Listings!' is not a pipeline name"),
        (
            message_event(pipeline="a" * 3000),
            "pipeline: 'aaaaaaaaaaaaaaaaaaaa…' is 3000 characters",
        ),
        (message_event(pipeline=5), "body field 'pipeline' must be a non-empty string"),
        (
            message_event(execution="run-1"),
            "execution: 'run-1' is not a Step Functions execution ARN",
        ),
        (message_event(status="DONE"), "status: 'DONE' is not one of RUNNING, SUCCEEDED"),
        (message_event(text="x" * 40_001), "text: at most 40000 characters"),
        (message_event(raw=DEEP), "the body is not JSON"),
    ],
    ids=lambda value: "" if isinstance(value, dict) else str(value)[:40],
)
def test_the_messages_api_answers_bad_input_with_a_400(
    slack: Central, event: dict[str, Any], expected: str
) -> None:
    status, message = status_and_message(slack.poster.handle(event))
    assert status == 400
    assert message.startswith(expected), message


def test_slack_input_that_raised_on_main_is_now_a_400(slack: Central) -> None:
    # A deeply nested body made json.loads raise RecursionError out of both handlers (502)
    assert slack.publisher.handle(channels_event(raw=DEEP))["statusCode"] == 400
    assert slack.poster.handle(message_event(raw=DEEP))["statusCode"] == 400
