"""From Step Functions history events (as the log subscription delivers them) to notices."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dpc.lambdas.execution_tracker import (
    HistoryEvent,
    Settings,
    Tracker,
    decode_subscription,
    encode_subscription,
    event_from_api,
    event_from_log,
    notices,
)
from dpc.lambdas.notifications import failed_step_of, readable_cause

EVENTS = Path(__file__).parent / "events"
STEPS = {"Step aggregate": "aggregate", "Step export": "export"}
ARN = "arn:aws:states:eu-west-1:222222222222:execution:dpc-searches:searches-2026-11-28"


def failed_run() -> list[HistoryEvent]:
    lines = (EVENTS / "sfn_history_failed_run.jsonl").read_text().splitlines()
    return [e for e in map(event_from_log, lines) if e is not None]


def told(new: list[HistoryEvent], context: list[HistoryEvent] | None = None) -> list[tuple]:
    return [
        (n.step, n.status, n.duration, n.failed_step, n.error)
        for n in notices(new, context or [], pipeline="searches", step_states=STEPS)
    ]


def test_a_whole_failed_run_tells_each_step_and_the_runs_end() -> None:
    # Given the history of a run whose second step fails (cluster created and terminated)
    # When the whole history arrives in one batch
    result = told(failed_run())
    # Then: run start, both steps' start and end with durations, the run's failure at "export";
    # the cluster bookkeeping states are not told on their own
    assert result == [
        (None, "RUNNING", None, None, None),
        ("aggregate", "RUNNING", None, None, None),
        ("aggregate", "SUCCEEDED", timedelta(seconds=423), None, None),
        ("export", "RUNNING", None, None, None),
        ("export", "FAILED", timedelta(seconds=60), None, "States.TaskFailed"),
        (None, "FAILED", timedelta(seconds=1021), "export", "States.TaskFailed"),
    ]


def test_step_error_and_cause_reach_the_runs_failure_notice() -> None:
    run_end = notices(failed_run(), [], pipeline="searches", step_states=STEPS)[-1]
    assert run_end.cause == "Step export (s-2AXXXXXXGAPLF) failed: shell script exited with code 3"
    assert run_end.account == "222222222222" and run_end.region == "eu-west-1"
    assert run_end.time == datetime(2026, 11, 28, 5, 17, 1, tzinfo=UTC)


def test_context_from_the_history_completes_a_later_batch() -> None:
    # Given the run's events arrive in two batches, split inside step "export"
    history = failed_run()
    first, second = history[:13], history[13:]
    # When the second batch is told with the first as context (what GetExecutionHistory gives)
    result = told(second, context=first)
    # Then only the second batch's events are told, with durations and the failing step
    assert result == [
        ("export", "FAILED", timedelta(seconds=60), None, "States.TaskFailed"),
        (None, "FAILED", timedelta(seconds=1021), "export", "States.TaskFailed"),
    ]


def test_without_context_the_batch_is_still_told_without_what_it_cannot_know() -> None:
    result = told(failed_run()[-1:])
    assert result == [(None, "FAILED", None, None, "States.TaskFailed")]


def test_no_step_names_means_every_task_state_is_a_step() -> None:
    new = failed_run()[:6]
    steps = {n.step for n in notices(new, [], pipeline="searches", step_states={})}
    assert steps == {None, "CreateCluster"}


def test_api_history_events_read_like_log_events() -> None:
    raw = {
        "timestamp": datetime(2026, 11, 28, 5, 15, 5, tzinfo=UTC),
        "type": "TaskFailed",
        "id": 15,
        "previousEventId": 14,
        "taskFailedEventDetails": {
            "resourceType": "elasticmapreduce",
            "resource": "addStep.sync",
            "error": "States.TaskFailed",
            "cause": "Step export (s-2AXXXXXXGAPLF) failed: shell script exited with code 3",
        },
    }
    assert event_from_api(ARN, raw) == failed_run()[14]


def test_subscription_payload_round_trip_skips_foreign_lines() -> None:
    lines = (EVENTS / "sfn_history_failed_run.jsonl").read_text().splitlines()
    payload = encode_subscription("/aws/vendedlogs/states/dpc-searches", [*lines[:3], "START"])
    assert decode_subscription(payload) == failed_run()[:3]


def test_settings_from_the_lambda_environment() -> None:
    env = {
        "DPC_PIPELINE_NAME": "searches",
        "DPC_NOTIFICATION_TYPE": "ON_FINISH",
        "DPC_PIPELINE_STEPS": '{"Step aggregate": "aggregate"}',
        "DPC_NOTIFICATION_TOPIC_ARN": "arn:aws:sns:eu-west-1:222222222222:dpc-searches",
        "DPC_SLACK_API_URL": "https://abc.execute-api.eu-west-1.amazonaws.com/v1/",
    }
    settings = Settings.from_env(env)
    assert settings.step_states == {"Step aggregate": "aggregate"}
    assert settings.slack_api_url == "https://abc.execute-api.eu-west-1.amazonaws.com/v1"
    # A list names states that are their own steps; no Slack URL means no Slack targets
    listed = Settings.from_env({**env, "DPC_PIPELINE_STEPS": '["build"]', "DPC_SLACK_API_URL": ""})
    assert listed.step_states == {"build": "build"} and listed.slack_api_url is None
    with pytest.raises(ValueError, match="DPC_NOTIFICATION_TYPE='ALWAYS' is not one of"):
        Settings.from_env({**env, "DPC_NOTIFICATION_TYPE": "ALWAYS"})


@pytest.mark.parametrize("url", ["none", ""])
def test_slack_targets_without_a_slack_api_url_are_not_configured(url: str) -> None:
    # Given a pipeline with Slack targets in an account set up without --slack-api-url
    env = {"DPC_PIPELINE_NAME": "searches", "DPC_SLACK_API_URL": url}
    # Then there is no URL to post to, and the settings say why
    settings = Settings.from_env(env)
    assert settings.slack_api_url is None and settings.slack_unconfigured
    # A pipeline without Slack targets has no URL and nothing to warn about
    plain = Settings.from_env({"DPC_PIPELINE_NAME": "searches"})
    assert plain.slack_api_url is None and not plain.slack_unconfigured


def test_a_timed_out_run_names_the_step_that_was_running() -> None:
    # Given a run that times out while step "export" runs (no task failure is recorded)
    history = failed_run()[:14]  # … TaskStateEntered "Step export", TaskScheduled, TaskStarted
    timed_out = HistoryEvent(
        id=15,
        type="ExecutionTimedOut",
        time=history[-1].time + timedelta(hours=2),
        execution_arn=ARN,
    )
    (notice,) = notices([timed_out], history, pipeline="searches", step_states=STEPS)
    assert (notice.status, notice.failed_step) == ("TIMED_OUT", "export")
    # And a run aborted between states names none
    between = [*failed_run()[:11], replace(timed_out, id=12, type="ExecutionAborted")]
    (aborted,) = notices(between[-1:], between[:-1], pipeline="searches", step_states=STEPS)
    assert (aborted.status, aborted.failed_step) == ("ABORTED", None)


def test_an_emr_step_failure_is_told_by_its_reason_message_and_log() -> None:
    emr = {
        "Step": {
            "Name": "aggregate",
            "Status": {
                "State": "FAILED",
                "FailureDetails": {
                    "Reason": "Unknown Error.",
                    "Message": "Exception in thread main: input path does not exist",
                    "LogFile": "s3://dpc-artifacts/logs/emr/j-1/steps/s-1/stderr.gz",
                },
            },
        }
    }
    assert readable_cause(json.dumps(emr)) == (
        "Unknown Error.: Exception in thread main: input path does not exist"
        " (log: s3://dpc-artifacts/logs/emr/j-1/steps/s-1/stderr.gz)"
    )
    assert readable_cause('{"errorMessage": "boom"}') == '{"errorMessage": "boom"}'
    assert readable_cause("plain words") == "plain words"
    # and the step it names, which the central run log keeps for late alerts
    assert failed_step_of(json.dumps(emr)) == "aggregate"
    assert failed_step_of('{"errorMessage": "boom"}') is None
    assert failed_step_of("plain words") is None


# Defence in depth (issue 12, item 6): the tracker checks what it is given itself.


class Recorded:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def publish(self, **kwargs: Any) -> None:
        self.sent.append(kwargs)

    def __call__(self, message: Any) -> None:
        self.sent.append(message)


def searches_tracker(sns: Recorded, slack: Recorded) -> Tracker:
    settings = Settings(
        pipeline="searches",
        notification_type="FULL_EXECUTION",
        step_states=STEPS,
        topic_arn="arn:aws:sns:eu-west-1:222222222222:dpc-searches-notifications",
        slack_api_url="https://slack.example/v1",
    )
    return Tracker(settings, sns, slack, history=lambda arn: [])


FAILED_RUN_LINES = (EVENTS / "sfn_history_failed_run.jsonl").read_text().splitlines()


@pytest.mark.parametrize(
    "event",
    [
        # an EventBridge event of another source, dressed with the status-change detail-type
        {"source": "my.app", "detail-type": "Step Functions Execution Status Change", "detail": {}},
        # the Step Functions status change itself: not what the log subscription delivers
        json.loads((EVENTS / "sfn_status_change.json").read_text()),
        {"awslogs": {"data": "not base64 gzip"}},
        {"awslogs": "nothing"},
        [],
    ],
    ids=["custom-source", "sfn-status-change", "bad-data", "bad-awslogs", "not-a-mapping"],
)
def test_input_that_is_not_a_log_subscription_is_logged_and_ignored(event: Any) -> None:
    sns, slack = Recorded(), Recorded()
    # Then nothing is told, and the tracker does not raise (a raise would be retried twice
    # and parked in its dead-letter queue, for input no retry can make valid)
    counts = searches_tracker(sns, slack).handle(event)
    assert counts == {"events": 0, "notices": 0, "failed_deliveries": 0, "ignored": 1}
    assert sns.sent == slack.sent == []


def test_history_of_another_state_machine_tells_nothing_in_this_pipelines_name() -> None:
    # Given listings' history (another pipeline's state machine) sent to searches' tracker
    foreign = [line.replace("dpc-searches", "dpc-listings") for line in FAILED_RUN_LINES]
    sns, slack = Recorded(), Recorded()
    counts = searches_tracker(sns, slack).handle(encode_subscription("/aws/states/x", foreign))
    # Then none of it becomes a notice of searches
    assert counts["notices"] == 0 and counts["ignored"] == len(foreign)
    assert sns.sent == slack.sent == []
    # while its own history is told
    own = searches_tracker(sns, slack).handle(encode_subscription("/x", FAILED_RUN_LINES))
    assert own["notices"] > 0 and "ignored" not in own
