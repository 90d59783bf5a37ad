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


# -- ownership: a channel belongs to the first account that registers it -------------------

ACCOUNT_C = "333333333333"


@pytest.fixture
def register(slack_aws: Any, signed_request: Any) -> Any:
    """PUT or DELETE one pipeline's channels as its own account, through a publisher built
    with the central config's allow-list (``owners``)."""

    def send(
        account: str,
        name: str,
        channels: list[str] | None,
        owners: dict[str, frozenset[str]] | None = None,
    ) -> tuple[int, str]:
        allow_list = {} if owners is None else {"owners": owners}
        publisher = ChannelPublisher(slack_aws.channels_table, slack_aws.dynamodb, **allow_list)
        method, body = ("DELETE", {}) if channels is None else ("PUT", {"channels": channels})
        reply = publisher.handle(
            signed_request(method, account, body, {"account": account, "name": name})
        )
        return reply["statusCode"], json.loads(reply["body"]).get("message", "")

    return send


def registered(slack_aws: Any, name: str, account: str) -> list[str] | None:
    item = slack_aws.dynamodb.get_item(
        TableName=slack_aws.channels_table, Key={"pipeline": {"S": f"{name}@{account}"}}
    ).get("Item")
    return [c["S"] for c in item["channels"]["L"]] if item else None


def test_a_second_account_cannot_register_a_channel_another_account_owns(
    register: Any, slack_aws: Any
) -> None:
    # Given account A registered its team channel first
    assert register(ACCOUNT_A, "listings", ["team-a"])[0] == 200
    # When account B registers a pipeline naming it (in any spelling Slack treats as the same)
    for spelling in ("team-a", "#team-a", "Team-A"):
        status, message = register(ACCOUNT_B, "searches", ["team-b", spelling])
        # Then it is refused with one line naming the channel and its owner
        assert status == 409
        assert message.startswith(f"Slack channel #team-a belongs to account {ACCOUNT_A}")
        assert "\n" not in message
    # and nothing of B's registration is stored, not even its own channel
    assert registered(slack_aws, "searches", ACCOUNT_B) is None
    assert register(ACCOUNT_C, "other", ["team-b"])[0] == 200  # team-b was never claimed by B


def test_the_owner_registers_again_and_from_other_pipelines(register: Any) -> None:
    assert register(ACCOUNT_A, "listings", ["team-a"])[0] == 200
    # CloudFormation retries and updates: the same registration again succeeds
    assert register(ACCOUNT_A, "listings", ["team-a"])[0] == 200
    # Another pipeline of the owner's account may use its channel
    assert register(ACCOUNT_A, "listings-hourly", ["#team-a"])[0] == 200


def test_ownership_is_released_with_the_owners_last_pipeline_on_the_channel(
    register: Any,
) -> None:
    register(ACCOUNT_A, "listings", ["team-a"])
    register(ACCOUNT_A, "listings-hourly", ["team-a", "team-a-debug"])
    # Deleting one of two pipelines keeps the channel A's
    assert register(ACCOUNT_A, "listings", None)[0] == 200
    assert register(ACCOUNT_B, "searches", ["team-a"])[0] == 409
    # An update dropping a channel releases that channel (the last pipeline on it)
    assert register(ACCOUNT_A, "listings-hourly", ["team-a"])[0] == 200
    assert register(ACCOUNT_B, "searches", ["team-a-debug"])[0] == 200
    # Deleting the last pipeline releases the channel, and deleting again still succeeds
    assert register(ACCOUNT_A, "listings-hourly", None)[0] == 200
    assert register(ACCOUNT_A, "listings-hourly", None)[0] == 200
    assert register(ACCOUNT_B, "searches", ["team-a-debug", "team-a"])[0] == 200
    assert register(ACCOUNT_A, "listings", ["team-a"])[0] == 409


def test_a_channel_cannot_be_claimed_by_its_slack_id(register: Any) -> None:
    # Slack posts to a channel id as to its name: an id would bypass ownership by name
    register(ACCOUNT_A, "listings", ["team-a"])
    status, message = register(ACCOUNT_B, "searches", ["C0TEAMA123"])
    assert status == 400
    assert "C0TEAMA123" in message and "name" in message


def test_the_central_allow_list_wins_over_first_come(register: Any) -> None:
    owners = {"shared-alerts": frozenset({ACCOUNT_A, ACCOUNT_B})}
    # Account C registered the channel before the allow-list named it
    assert register(ACCOUNT_C, "other", ["shared-alerts"])[0] == 200
    # The accounts the central config names may all register it, first-come or not
    assert register(ACCOUNT_A, "listings", ["shared-alerts"], owners)[0] == 200
    assert register(ACCOUNT_B, "searches", ["#shared-alerts"], owners)[0] == 200
    # Any other account is refused, naming the accounts allowed
    status, message = register(ACCOUNT_C, "other", ["shared-alerts"], owners)
    assert status == 409
    assert message.startswith(
        f"Slack channel #shared-alerts belongs to accounts {ACCOUNT_A}, {ACCOUNT_B}"
    )


def test_two_accounts_registering_one_channel_at_once_one_wins(
    register: Any, slack_aws: Any
) -> None:
    # Given account B registers the channel while A's registration is on its way
    def meanwhile(**kwargs: Any) -> None:
        slack_aws.dynamodb.meta.events.unregister(
            "before-call.dynamodb.TransactWriteItems", meanwhile
        )
        assert register(ACCOUNT_B, "searches", ["team-a"])[0] == 200

    slack_aws.dynamodb.meta.events.register("before-call.dynamodb.TransactWriteItems", meanwhile)
    # Then A, arriving second, is refused: B's claim was not overwritten
    status, message = register(ACCOUNT_A, "listings", ["team-a"])
    assert status == 409
    assert message.startswith(f"Slack channel #team-a belongs to account {ACCOUNT_B}")
    assert registered(slack_aws, "listings", ACCOUNT_A) is None
    assert registered(slack_aws, "searches", ACCOUNT_B) == ["team-a"]


def test_an_attacker_refused_at_deploy_posts_nothing_into_the_victims_channel(
    central: Any, fake_slack: Any
) -> None:
    # Given team B's channel is registered by team B
    assert central.register(["team-b"], name="searches", account=ACCOUNT_B)["statusCode"] == 200
    # When account A registers a pipeline naming team B's channel, and posts about its run
    refused = central.register(["team-b"], name="listings", account=ACCOUNT_A)
    execution = f"arn:aws:states:eu-west-1:{ACCOUNT_A}:execution:dpc-listings:run-1"
    posted = central.post(execution, "<!channel> please rotate your keys", account=ACCOUNT_A)
    # Then the registration is refused and nothing reaches team B's channel
    assert refused["statusCode"] == 409
    assert posted["status"] == 404
    assert fake_slack.in_channel("C0TEAMB") == []


def test_a_registration_older_than_ownership_stops_posting_once_the_owner_claims(
    central: Any, slack_aws: Any, fake_slack: Any
) -> None:
    # Given account A's pipeline named team B's channel before channels had owners
    slack_aws.dynamodb.put_item(
        TableName=slack_aws.channels_table,
        Item={"pipeline": {"S": f"listings@{ACCOUNT_A}"}, "channels": {"L": [{"S": "team-b"}]}},
    )
    execution = f"arn:aws:states:eu-west-1:{ACCOUNT_A}:execution:dpc-listings:run-1"
    # When team B deploys its pipeline, claiming the channel
    assert central.register(["team-b"], name="searches", account=ACCOUNT_B)["statusCode"] == 200
    # Then A's messages no longer reach it
    posted = central.post(execution, "still here", account=ACCOUNT_A)
    assert posted["status"] == 403
    assert "team-b" in posted["message"]
    assert fake_slack.in_channel("C0TEAMB") == []


def test_an_old_registration_keeps_posting_to_the_channels_that_are_still_its_own(
    central: Any, slack_aws: Any, fake_slack: Any
) -> None:
    # Given account A's old registration names its own channel, team B's, and a Slack id
    slack_aws.dynamodb.put_item(
        TableName=slack_aws.channels_table,
        Item={
            "pipeline": {"S": f"listings@{ACCOUNT_A}"},
            "channels": {"L": [{"S": c} for c in ("data-pipeline-alerts", "team-b", "C0TEAMB")]},
        },
    )
    central.register(["team-b"], name="searches", account=ACCOUNT_B)
    # When A posts about a run
    execution = f"arn:aws:states:eu-west-1:{ACCOUNT_A}:execution:dpc-listings:run-1"
    posted = central.post(execution, "run started", account=ACCOUNT_A)
    # Then only A's own channel gets it
    assert posted["status"] == 200 and posted["posted"] == ["data-pipeline-alerts"]
    assert [m["channel"] for m in fake_slack.messages] == ["C0ALERTS"]
