"""The Slack-channel publisher behind ``/channels/{account}/{name}``, on moto DynamoDB."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dpc.lambdas.slack_channel_publisher import ChannelPublisher

ACCOUNT_A = "111111111111"
ACCOUNT_B = "222222222222"
PATH = {"account": ACCOUNT_A, "name": "listings"}


@pytest.fixture
def call(slack_aws: Any, signed_request: Any) -> Any:
    publisher = ChannelPublisher(slack_aws.channels_table, slack_aws.dynamodb)

    def send(method: str, body: Any = None, caller: str = ACCOUNT_A) -> tuple[int, Any]:
        reply = publisher.handle(signed_request(method, caller, body or {}, PATH))
        return reply["statusCode"], json.loads(reply["body"])

    return send


@pytest.fixture
def stored(slack_aws: Any) -> Any:
    def read() -> list[str] | None:
        item = slack_aws.dynamodb.get_item(
            TableName=slack_aws.channels_table, Key={"pipeline": {"S": f"listings@{ACCOUNT_A}"}}
        ).get("Item")
        return [c["S"] for c in item["channels"]["L"]] if item else None

    return read


def test_create_update_delete(call: Any, stored: Any) -> None:
    # Create: channels stored in pipeline.yaml order, "#name" and "name" being one channel
    assert call("PUT", {"channels": ["#alerts", "team-b", "alerts"]})[0] == 200
    assert stored() == ["alerts", "team-b"]
    # Update replaces the list
    call("PUT", {"channels": ["team-c"]})
    assert stored() == ["team-c"]
    # Delete removes it, and deleting again still succeeds (CloudFormation retries)
    assert call("DELETE")[0] == 200
    assert stored() is None
    assert call("DELETE")[0] == 200


def test_update_without_slack_targets_removes_the_entry(call: Any, stored: Any) -> None:
    call("PUT", {"channels": ["alerts"]})
    assert call("PUT", {"channels": []})[0] == 200
    assert stored() is None


def test_another_account_cannot_register_this_accounts_pipeline(call: Any, stored: Any) -> None:
    status, body = call("PUT", {"channels": ["alerts"]}, caller=ACCOUNT_B)
    assert status == 403
    assert (
        body["message"] == f"account {ACCOUNT_B} may not register pipelines of account {ACCOUNT_A}"
    )
    assert stored() is None


@pytest.mark.parametrize(
    "body",
    [{}, {"channels": "alerts"}, {"channels": [""]}, {"channels": [f"c{i}" for i in range(21)]}],
)
def test_bad_channel_lists_are_refused_with_a_reason(call: Any, stored: Any, body: Any) -> None:
    status, answer = call("PUT", body)
    assert status == 400 and "channels" in answer["message"].lower()
    assert stored() is None
