"""The Lambda entry points as deployed: settings from the environment the stacks set, clients
built by the composition root (moto), the Slack base URL pointed at the fake Slack."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dpc import constants
from dpc.lambdas import execution_tracker, slack_channel_publisher, slack_poster

ACCOUNT_B = "222222222222"
HISTORY = Path(__file__).parents[1] / "unit" / "events" / "sfn_history_failed_run.jsonl"
EXECUTION = json.loads(HISTORY.read_text().splitlines()[0])["execution_arn"]


@dataclass(frozen=True)
class LambdaContext:
    function_name: str = "dpc-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:999999999999:function:dpc-test"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"


@pytest.fixture(autouse=True)
def fresh_containers() -> Iterator[None]:
    """Each test is a cold start: composition roots are built again from the environment."""
    roots = (slack_poster._poster, slack_channel_publisher._publisher, execution_tracker._tracker)
    for root in roots:
        root.cache_clear()
    yield
    for root in roots:
        root.cache_clear()


@pytest.fixture
def central_env(monkeypatch: pytest.MonkeyPatch, slack_aws: Any, fake_slack: Any) -> None:
    monkeypatch.setenv(constants.ENV_SLACK_CHANNELS_TABLE, slack_aws.channels_table)
    monkeypatch.setenv(constants.ENV_SLACK_THREADS_TABLE, slack_aws.threads_table)
    monkeypatch.setenv(constants.ENV_SLACK_TOKEN_SECRET, slack_aws.secret_id)
    monkeypatch.setenv(constants.ENV_SLACK_BASE_URL, fake_slack.url)


def test_publisher_and_poster_handlers_post_in_one_thread(
    central_env: None, signed_request: Any, fake_slack: Any
) -> None:
    context = LambdaContext()
    registered = slack_channel_publisher.handler(
        signed_request(
            "PUT", ACCOUNT_B, {"channels": ["team-b"]}, {"account": ACCOUNT_B, "name": "searches"}
        ),
        context,
    )
    assert registered["statusCode"] == 200
    for text in ("first", "second"):
        message = {"pipeline": "searches", "execution": EXECUTION, "text": text}
        reply = slack_poster.handler(signed_request("POST", ACCOUNT_B, message), context)
        assert reply["statusCode"] == 200
    root, reply_message = fake_slack.in_channel("C0TEAMB")
    assert reply_message["thread_ts"] == root["ts"]


def test_tracker_handler_publishes_to_the_topic_from_its_environment(
    monkeypatch: pytest.MonkeyPatch, notification_topic: Any
) -> None:
    # Given the tracker's deployed environment, without Slack targets
    monkeypatch.setenv(constants.ENV_PIPELINE_NAME, "searches")
    monkeypatch.setenv(constants.ENV_NOTIFICATION_TYPE, "ON_FAILURE")
    monkeypatch.setenv(constants.ENV_NOTIFICATION_TOPIC_ARN, notification_topic.arn)
    monkeypatch.setenv(
        constants.ENV_PIPELINE_STEPS,
        json.dumps({"Step export": "export", "Step aggregate": "aggregate"}),
    )
    # When the whole failed run arrives (the execution is unknown to Step Functions here,
    # so the tracker formats from the batch alone)
    lines = HISTORY.read_text().splitlines()
    event = execution_tracker.encode_subscription("/aws/vendedlogs/states/dpc-searches", lines)
    counts = execution_tracker.handler(event, LambdaContext())
    # Then the failure reached the topic
    assert counts == {"events": len(lines), "notices": 1, "failed_deliveries": 0}
    (email,) = notification_topic.received()
    assert email["Subject"] == "[dpc] searches: run FAILED at step export"


def test_tracker_skips_slack_with_one_warning_when_the_account_has_no_slack_api(
    monkeypatch: pytest.MonkeyPatch, notification_topic: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a pipeline with Slack targets in an account set up without --slack-api-url:
    # the stacks pass the literal "none"
    monkeypatch.setenv(constants.ENV_PIPELINE_NAME, "searches")
    monkeypatch.setenv(constants.ENV_NOTIFICATION_TYPE, "ON_FAILURE")
    monkeypatch.setenv(constants.ENV_NOTIFICATION_TOPIC_ARN, notification_topic.arn)
    monkeypatch.setenv(constants.ENV_SLACK_API_URL, "none")
    lines = HISTORY.read_text().splitlines()
    event = execution_tracker.encode_subscription("/aws/vendedlogs/states/dpc-searches", lines)
    # When two failed-run batches arrive at the same container
    counts = [execution_tracker.handler(event, LambdaContext()) for _ in range(2)]
    # Then no delivery fails, the e-mail still goes out, and one warning says why Slack is not
    assert [c["failed_deliveries"] for c in counts] == [0, 0]
    assert len(notification_topic.received()) == 2
    slack_records = [r for r in caplog.records if "Slack" in r.getMessage()]
    assert [r.levelname for r in slack_records] == ["WARNING"]
    assert "Slack is not configured" in slack_records[0].getMessage()
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
