"""The alerting flow of a failing run: execution tracker → SNS topic and Slack API → Slack.

The Slack API (API Gateway) is stood in for by handing the poster the proxy event API
Gateway would build for the tracker's signed call; everything else is the real code on moto
and a fake Slack on real HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from dpc.lambdas.execution_tracker import (
    HistoryEvent,
    Settings,
    Tracker,
    encode_subscription,
    event_from_log,
)

ACCOUNT_B = "222222222222"
HISTORY = Path(__file__).parents[1] / "unit" / "events" / "sfn_history_failed_run.jsonl"
LOG_GROUP = "/aws/vendedlogs/states/dpc-searches"


def through_api_gateway(central: Any) -> Any:
    def send(message: Mapping[str, Any]) -> None:
        reply = central.post(
            message["execution"], message["text"], account=ACCOUNT_B, pipeline=message["pipeline"]
        )
        if reply["status"] != 200:
            raise RuntimeError(f"Slack API answered {reply['status']}: {reply}")

    return send


def no_history(execution_arn: str) -> Sequence[HistoryEvent]:
    raise RuntimeError("GetExecutionHistory is not reachable in this test")


def tracker(central: Any, topic: Any, kind: str, history: Any = no_history) -> Tracker:
    settings = Settings(
        pipeline="searches",
        notification_type=kind,  # type: ignore[arg-type]
        step_states={"Step aggregate": "aggregate", "Step export": "export"},
        topic_arn=topic.arn,
        slack_api_url="https://slack-api.invalid/v1",
    )
    return Tracker(settings, topic.sns, through_api_gateway(central), history)


@pytest.fixture
def searches(central: Any) -> Any:
    central.register(["data-pipeline-alerts"], name="searches", account=ACCOUNT_B)
    return central


def test_failing_run_yields_one_slack_thread_and_the_same_text_by_email(
    searches: Any, notification_topic: Any, fake_slack: Any
) -> None:
    # Given searches notifies FULL_EXECUTION to Slack and e-mail
    lines = HISTORY.read_text().splitlines()
    so_far: list[HistoryEvent] = []  # what GetExecutionHistory answers at each moment
    subject = tracker(searches, notification_topic, "FULL_EXECUTION", history=lambda a: so_far)
    # When its failing run's history reaches the tracker, one log batch per event
    for line in lines:
        so_far.append(event_from_log(line))  # type: ignore[arg-type]
        subject.handle(encode_subscription(LOG_GROUP, [line]))
    # Then Slack has one thread: the run's start as root, every later message replying to it
    root, *replies = fake_slack.in_channel("C0ALERTS")
    assert root["text"].startswith("[dpc] searches: run started")
    assert {r["thread_ts"] for r in replies} == {root["ts"]}
    assert [r["text"].splitlines()[0] for r in replies] == [
        "[dpc] searches: step aggregate started",
        "[dpc] searches: step aggregate SUCCEEDED",
        "[dpc] searches: step export started",
        "[dpc] searches: step export FAILED",
        "[dpc] searches: run FAILED at step export",
    ]
    # And the topic (e-mail, OpsGenie, webhooks) got the same six messages, same text
    emails = notification_topic.received()
    assert [e["Message"] for e in emails] == [m["text"] for m in fake_slack.messages]
    assert emails[-1]["Subject"] == "[dpc] searches: run FAILED at step export"
    assert emails[-1]["MessageAttributes"]["status"]["Value"] == "FAILED"


def test_on_failure_sends_only_the_failure_with_step_error_and_duration(
    searches: Any, notification_topic: Any, fake_slack: Any
) -> None:
    lines = HISTORY.read_text().splitlines()
    history = [e for e in map(event_from_log, lines) if e is not None]
    # Given the tracker can read the execution's history (GetExecutionHistory)
    subject = tracker(searches, notification_topic, "ON_FAILURE", history=lambda arn: history)
    # When the run's last events arrive in a batch of their own
    counts = subject.handle(encode_subscription(LOG_GROUP, lines[-3:]))
    # Then one message: the run failed at "export", with its error and the run's duration
    assert counts == {"events": 3, "notices": 1, "failed_deliveries": 0}
    (message,) = fake_slack.messages
    text = message["text"]
    assert "Step:      export" in text
    assert "Duration:  17m 01s" in text
    assert "Error:     States.TaskFailed: Step export (s-2AXXXXXXGAPLF) failed" in text
    assert [e["Message"] for e in notification_topic.received()] == [text]


def test_history_is_read_once_per_run_for_on_failure(
    searches: Any, notification_topic: Any, fake_slack: Any
) -> None:
    # Given an ON_FAILURE pipeline whose run's history arrives one event per batch
    lines = HISTORY.read_text().splitlines()
    so_far: list[HistoryEvent] = []
    reads: list[str] = []

    def history(execution_arn: str) -> Sequence[HistoryEvent]:
        reads.append(execution_arn)
        return so_far

    subject = tracker(searches, notification_topic, "ON_FAILURE", history=history)
    for line in lines:
        so_far.append(event_from_log(line))  # type: ignore[arg-type]
        subject.handle(encode_subscription(LOG_GROUP, [line]))
    # Then GetExecutionHistory was called once (for the run's end), and the alert is complete
    assert len(reads) == 1
    (message,) = fake_slack.messages
    assert message["text"].startswith("[dpc] searches: run FAILED at step export")
    assert "Duration:  17m 01s" in message["text"]


def test_a_slack_outage_does_not_stop_the_email(
    searches: Any, notification_topic: Any, fake_slack: Any
) -> None:
    fake_slack.token = "xoxb-rotated-elsewhere"
    lines = HISTORY.read_text().splitlines()
    counts = tracker(searches, notification_topic, "ON_FINISH").handle(
        encode_subscription(LOG_GROUP, lines)
    )
    assert counts == {"events": len(lines), "notices": 1, "failed_deliveries": 1}
    assert fake_slack.messages == []
    (email,) = notification_topic.received()
    assert email["Subject"] == "[dpc] searches: run FAILED at step export"


def test_control_messages_tell_nothing(searches: Any, notification_topic: Any) -> None:
    import base64
    import gzip

    control = {"messageType": "CONTROL_MESSAGE", "logEvents": [{"message": "CWL CONTROL"}]}
    event = {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(control).encode()))}}
    counts = tracker(searches, notification_topic, "FULL_EXECUTION").handle(event)
    assert counts == {"events": 0, "notices": 0, "failed_deliveries": 0}
    assert notification_topic.received() == []


def test_text_from_the_run_reaches_slack_escaped_and_the_email_verbatim(
    searches: Any, notification_topic: Any, fake_slack: Any
) -> None:
    # Given a step that fails with a cause crafted to ping the whole channel and hide a link
    attack = "<!channel> <@U0ADMIN> log in at <https://evil.example/login|the runbook> & retry"
    lines = [
        line.replace("shell script exited with code 3", attack)
        for line in HISTORY.read_text().splitlines()
    ]
    history = [e for e in map(event_from_log, lines) if e is not None]
    subject = tracker(searches, notification_topic, "ON_FAILURE", history=lambda arn: history)
    # When the failed run is reported
    subject.handle(encode_subscription(LOG_GROUP, lines[-3:]))
    # Then Slack gets the cause as text: no mention, no disguised link (Slack's escaping)
    (message,) = fake_slack.messages
    assert (
        "&lt;!channel&gt; &lt;@U0ADMIN&gt; log in at "
        "&lt;https://evil.example/login|the runbook&gt; &amp; retry"
    ) in message["text"]
    assert "<" not in message["text"] and ">" not in message["text"]
    # while the e-mail, which has no such markup, says exactly what the step said
    (email,) = notification_topic.received()
    assert attack in email["Message"]
