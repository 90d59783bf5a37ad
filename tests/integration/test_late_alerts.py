"""Late alerts (issue 14 item 1), on moto and the fake Slack: the central sweep over the due
index tells searches' team and pipeline-x's owners (the correlated child searches blocks)
once per (pipeline, period), why it is late, and "recovered" in the same thread."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import Central, FakeSlack

from dpc import constants
from dpc.lambdas.central import LocalCentral, state_machine_arn
from dpc.lambdas.due_index import watch
from dpc.lambdas.late_alerts import LateAlertSweeper, LateSweepError, Settings
from dpc.lambdas.registry import Registration
from dpc.lambdas.trigger_manager import status_change_event
from dpc.observe.central import Central as WhyCentral
from dpc.observe.views import period_status_line
from dpc.triggers.deadlines import parse_expect
from dpc.triggers.events import RunEvent
from dpc.triggers.model import Condition, Item, ParentRef
from dpc.triggers.periods import PeriodSpec, period_containing

LISTINGS = ParentRef("listings", "111111111111")
SEARCHES = ParentRef("searches", "222222222222")
PIPELINE_X = ParentRef("pipeline-x", "333333333333")
REGISTERED_AT = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)
DAY_TWO = datetime(2026, 11, 28, tzinfo=UTC)
PERIOD = period_containing("day", DAY_TWO)


@dataclass
class Org:
    central: LocalCentral
    sweeper: LateAlertSweeper
    slack: FakeSlack
    inbox_url: str
    sqs: Any

    def run(
        self,
        ref: ParentRef,
        status: str,
        at: datetime,
        started: datetime,
        name: str,
        cause: str | None = None,
    ) -> None:
        event = RunEvent(at, ref, status, name, PERIOD)  # type: ignore[arg-type]
        native = status_change_event(event, started_at=started)
        if cause is not None:  # as Step Functions reports a run its Fail state ended
            native["detail"].update(error="States.TaskFailed", cause=cause)
        self.central.manager().handle(native)

    def events(self) -> list[dict[str, Any]]:
        """The Pipeline Late / Recovered events the sweep put on the central bus."""
        found = []
        while batch := self.sqs.receive_message(QueueUrl=self.inbox_url, MaxNumberOfMessages=10):
            if not batch.get("Messages"):
                break
            for message in batch["Messages"]:
                found.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.inbox_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return found


@pytest.fixture
def org(central: Central, fake_slack: FakeSlack, slack_aws: Any) -> Org:
    fake_slack.channels["searches-alerts"] = "C0SEARCH"
    dynamodb, events = slack_aws.dynamodb, boto3.client("events", region_name="eu-west-1")
    local = LocalCentral.create(dynamodb, events)
    registry, table = local.registry, local.settings.trigger_state_table
    for ref, condition, expect in (
        (LISTINGS, None, None),
        (SEARCHES, None, parse_expect("06:00")),
        (
            PIPELINE_X,
            Condition(
                all_of=(
                    Item(LISTINGS, frozenset({"SUCCEEDED"})),
                    Item(SEARCHES, frozenset({"SUCCEEDED"})),
                ),
                correlate="period",
            ),
            None,
        ),
    ):
        registration = Registration(
            ref, state_machine_arn(ref), condition, period=PeriodSpec(), expect=expect
        )
        registry.register(registration)
        watch(dynamodb, table, registration, REGISTERED_AT)
    assert central.register(["searches-alerts"], "searches", SEARCHES.account)["statusCode"] == 200
    assert (
        central.register(["data-pipeline-alerts"], "pipeline-x", PIPELINE_X.account)["statusCode"]
        == 200
    )
    sqs = boto3.client("sqs", region_name="eu-west-1")
    inbox = sqs.create_queue(QueueName="late-events")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])
    events.put_rule(
        Name="late-events",
        EventBusName=local.settings.event_bus_name,
        EventPattern=json.dumps({"source": [constants.LATE_ALERT_SOURCE]}),
    )
    events.put_targets(
        Rule="late-events",
        EventBusName=local.settings.event_bus_name,
        Targets=[{"Id": "inbox", "Arn": inbox_arn["Attributes"]["QueueArn"]}],
    )
    settings = Settings(
        local.settings.dependencies_table,
        local.settings.run_log_table,
        table,
        local.settings.event_bus_name,
    )
    sweeper = LateAlertSweeper(settings, central.poster, dynamodb=dynamodb, events=events)
    # Day 1 is on time: searches succeeds at 05:10, before its 06:00 deadline.
    sweeper.sweep(REGISTERED_AT)
    return Org(local, sweeper, fake_slack, inbox, sqs)


def sweep_day_one_then(org: Org, moment: datetime) -> Any:
    day_one = REGISTERED_AT + timedelta(hours=5)
    finished = day_one + timedelta(minutes=10)
    event = RunEvent(finished, SEARCHES, "SUCCEEDED", "s-day1", period_containing("day", day_one))
    org.central.manager().handle(status_change_event(event, started_at=day_one))
    assert org.sweeper.sweep(day_one + timedelta(hours=1, minutes=5)).late == ()
    return org.sweeper.sweep(moment)


def why_reader(org: Org) -> WhyCentral:
    settings = org.central.settings
    return WhyCentral(
        org.central.dynamodb,
        settings.run_log_table,
        settings.dependencies_table,
        settings.trigger_state_table,
    )


def slack_texts(org: Org, channel: str) -> list[str]:
    return [m["text"] for m in org.slack.in_channel(channel)]


def test_no_run_by_the_deadline_alerts_searches_and_the_child_it_blocks_once(org: Org) -> None:
    report = sweep_day_one_then(org, DAY_TWO + timedelta(hours=6, minutes=5))

    assert report.late == (f"{SEARCHES} 2026-11-28",)
    (to_searches,) = slack_texts(org, "C0SEARCH")
    (to_x,) = slack_texts(org, "C0ALERTS")
    assert to_searches == to_x
    assert to_searches.splitlines()[0] == "[dpc] searches: LATE for 2026-11-28"
    assert "due 2026-11-28 06:00: no run yet" in to_searches
    assert f"pipeline-x@{PIPELINE_X.account}" in to_searches
    told = sorted((e["detail"]["pipeline"], e["detail"]["account"]) for e in org.events())
    assert told == [("pipeline-x", PIPELINE_X.account), ("searches", SEARCHES.account)]
    # Never twice: later sweeps, and the registration seen again (a redeploy), raise nothing.
    assert org.sweeper.sweep(DAY_TWO + timedelta(hours=6, minutes=10)).late == ()
    registration = org.central.registry.get(SEARCHES)
    assert registration is not None
    watch(org.central.dynamodb, org.sweeper.table, registration, DAY_TWO + timedelta(hours=5))
    assert org.sweeper.sweep(DAY_TWO + timedelta(hours=6, minutes=15)).late == ()
    assert len(org.slack.messages) == 2 and org.events() == []


def test_a_run_still_running_at_the_deadline_is_told_with_its_start(org: Org) -> None:
    five = DAY_TWO + timedelta(hours=5)
    org.run(SEARCHES, "RUNNING", five, five, "s-day2")

    sweep_day_one_then(org, DAY_TWO + timedelta(hours=6, minutes=5))

    (text,) = slack_texts(org, "C0SEARCH")
    assert "due 2026-11-28 06:00: running since 2026-11-28 05:00" in text
    assert "Execution: s-day2" in text


def test_a_failed_run_is_told_then_recovered_in_the_same_thread(org: Org) -> None:
    five = DAY_TWO + timedelta(hours=5)
    details = {"Reason": "no search logs for 2026-11-28"}
    step_failure = {"Name": "aggregate", "Status": {"State": "FAILED", "FailureDetails": details}}
    org.run(
        SEARCHES,
        "FAILED",
        five + timedelta(minutes=11),
        five,
        "s-day2",
        cause=json.dumps({"Step": step_failure}),
    )
    sweep_day_one_then(org, DAY_TWO + timedelta(hours=6, minutes=5))
    (late,) = org.slack.in_channel("C0SEARCH")
    # the step that failed and its error, as the run's status event reported them
    assert (
        "due 2026-11-28 06:00: FAILED at 2026-11-28 05:11 in step aggregate: "
        "no search logs for 2026-11-28"
    ) in late["text"]
    org.events()

    # The rerun succeeds at 09:12; the next sweep tells it into the late alert's thread.
    nine = DAY_TWO + timedelta(hours=9)
    org.run(SEARCHES, "SUCCEEDED", nine + timedelta(minutes=12), nine, "r-day2")
    report = org.sweeper.sweep(nine + timedelta(minutes=15))

    assert report.recovered == (f"{SEARCHES} 2026-11-28",)
    for channel in ("C0SEARCH", "C0ALERTS"):
        root, reply = org.slack.in_channel(channel)
        assert reply["thread_ts"] == root["ts"]
        assert reply["text"].splitlines()[0] == "[dpc] searches: RECOVERED for 2026-11-28"
        assert "SUCCEEDED at 2026-11-28 09:12" in reply["text"]
        assert "Late by:   3h 12m 00s" in reply["text"]
    kinds = sorted((e["detail-type"], e["detail"]["pipeline"]) for e in org.events())
    assert kinds == [("Pipeline Recovered", "pipeline-x"), ("Pipeline Recovered", "searches")]
    assert org.sweeper.sweep(nine + timedelta(minutes=20)).recovered == ()
    assert len(org.slack.messages) == 4


def test_on_time_is_silent_and_the_next_day_is_still_watched(org: Org) -> None:
    five = DAY_TWO + timedelta(hours=5)
    org.run(SEARCHES, "SUCCEEDED", five + timedelta(minutes=9), five, "s-day2")

    assert sweep_day_one_then(org, DAY_TWO + timedelta(hours=6, minutes=5)).late == ()
    assert org.slack.messages == []

    # 29 November: no run at all by 06:00
    report = org.sweeper.sweep(DAY_TWO + timedelta(days=1, hours=6, minutes=5))
    assert report.late == (f"{SEARCHES} 2026-11-29",)


def test_an_alert_eventbridge_refused_is_sent_by_a_later_sweep(org: Org) -> None:
    hook = "before-parameter-build.events.PutEvents"
    events = org.sweeper.events
    events.meta.events.register(hook, unavailable)
    with pytest.raises(LateSweepError):  # Lambda retries the run, then its queue keeps it
        sweep_day_one_then(org, DAY_TWO + timedelta(hours=6, minutes=5))
    events.meta.events.unregister(hook, unavailable)
    assert org.slack.messages == []
    # A retry within the claim lease leaves it to the sweep that may still be sending it;
    # after the lease the next sweep sends it, still once.
    assert org.sweeper.sweep(DAY_TWO + timedelta(hours=6, minutes=6)).late == ()
    report = org.sweeper.sweep(DAY_TWO + timedelta(hours=6, minutes=15))
    assert report.late == (f"{SEARCHES} 2026-11-28",)
    assert len(org.events()) == 2
    assert len(org.slack.messages) == 2


def unavailable(**_: Any) -> None:
    raise ClientError({"Error": {"Code": "InternalFailure", "Message": "down"}}, "PutEvents")


def test_the_tracker_publishes_a_late_alert_of_its_own_pipeline_to_its_topic(
    notification_topic: Any,
) -> None:
    from dpc.lambdas.execution_tracker import Settings as TrackerSettings
    from dpc.lambdas.execution_tracker import Tracker

    tracker = Tracker(
        TrackerSettings("searches", "ON_FAILURE", {}, notification_topic.arn, None),
        sns=notification_topic.sns,
        send_to_slack=None,
        history=lambda _: [],
    )
    late = {
        "source": constants.LATE_ALERT_SOURCE,
        "detail-type": constants.LATE_DETAIL_TYPE,
        "detail": {"pipeline": "searches", "account": SEARCHES.account, "text": "[dpc] late\nx"},
    }
    assert tracker.handle(late)["notices"] == 1
    other = {**late, "detail": {**late["detail"], "pipeline": "listings"}}
    assert tracker.handle(other)["ignored"] == 1
    (received,) = notification_topic.received()
    assert (received["Subject"], received["Message"]) == ("[dpc] late", "[dpc] late\nx")


def test_a_child_without_a_deadline_is_late_at_its_inferred_one_and_told_once(org: Org) -> None:
    # Given pipeline-x (no expect) took one hour on day 1, and searches fails on day 2
    day_one_x = REGISTERED_AT + timedelta(hours=6, minutes=30)
    x_day_one = RunEvent(
        day_one_x + timedelta(hours=1),
        PIPELINE_X,
        "SUCCEEDED",
        "x-day1",
        period_containing("day", day_one_x),
    )
    five = DAY_TWO + timedelta(hours=5)
    org.run(SEARCHES, "FAILED", five + timedelta(minutes=11), five, "s-day2")
    org.central.manager().handle(status_change_event(x_day_one, started_at=day_one_x))

    # When the sweeps pass searches' 06:00, then 07:00 (06:00 plus pipeline-x's typical hour)
    assert sweep_day_one_then(org, DAY_TWO + timedelta(hours=6, minutes=5)).late == (
        f"{SEARCHES} 2026-11-28",
    )
    assert org.sweeper.sweep(DAY_TWO + timedelta(hours=6, minutes=55)).late == ()
    report = org.sweeper.sweep(DAY_TWO + timedelta(hours=7, minutes=5))

    # Then pipeline-x's owners hear that pipeline-x itself is late, and on what it waits
    assert report.late == (f"{PIPELINE_X} 2026-11-28",)
    assert slack_texts(org, "C0SEARCH")[1:] == []
    searches_alert, x_alert = slack_texts(org, "C0ALERTS")
    assert searches_alert.startswith("[dpc] searches: LATE")
    assert x_alert.splitlines()[0] == "[dpc] pipeline-x: LATE for 2026-11-28"
    assert (
        f"due 2026-11-28 07:00 (inferred): waiting on {LISTINGS} (waiting), {SEARCHES} (failed)"
        in x_alert
    )
    # ... in the words `dpc why --period` uses for each of them at that moment
    for alert in (searches_alert, x_alert):
        (status,) = [line for line in alert.splitlines() if line.startswith("Status:")]
        name = alert.split(":")[0].removeprefix("[dpc] ")
        asked = DAY_TWO + timedelta(hours=7, minutes=5)
        explanation = why_reader(org).why(name, None, 10, "2026-11-28", asked)
        told = period_status_line(explanation).partition(" — ")[2]
        assert status.removeprefix("Status:").strip() == told
    late_events = [
        e["detail"] for e in org.events() if e["detail"]["late"]["pipeline"] == "pipeline-x"
    ]
    assert [(e["pipeline"], e["account"]) for e in late_events] == [
        ("pipeline-x", PIPELINE_X.account)
    ]
    assert org.sweeper.sweep(DAY_TWO + timedelta(hours=7, minutes=10)).late == ()

    # And after searches' rerun pipeline-x succeeds: recovered in its own alert's thread
    nine = DAY_TWO + timedelta(hours=9)
    org.run(SEARCHES, "SUCCEEDED", nine + timedelta(minutes=12), nine, "r-day2")
    org.run(
        PIPELINE_X, "SUCCEEDED", nine + timedelta(hours=1), nine + timedelta(minutes=20), "x-day2"
    )
    recovered = org.sweeper.sweep(nine + timedelta(hours=1, minutes=5)).recovered
    assert sorted(recovered) == [f"{PIPELINE_X} 2026-11-28", f"{SEARCHES} 2026-11-28"]
    x_root = next(m for m in org.slack.in_channel("C0ALERTS") if m["text"] == x_alert)
    (x_reply,) = [m for m in org.slack.in_channel("C0ALERTS") if m.get("thread_ts") == x_root["ts"]]
    assert x_reply["text"].splitlines()[0] == "[dpc] pipeline-x: RECOVERED for 2026-11-28"


def test_a_child_with_no_success_yet_gets_no_inferred_deadline(org: Org) -> None:
    # Given pipeline-x never succeeded: its typical run time is unknown
    report = sweep_day_one_then(org, DAY_TWO + timedelta(hours=6, minutes=5))
    assert report.late == (f"{SEARCHES} 2026-11-28",)

    # Then however late the day gets, only searches' alert was raised
    assert org.sweeper.sweep(DAY_TWO + timedelta(hours=23)).late == ()
    assert len(org.slack.messages) == 2
