"""The trigger-manager Lambda on moto DynamoDB + EventBridge: the case study, the run log,
explanations, spoofing, bounded state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from dpc.constants import TRIGGER_DETAIL_TYPE, TRIGGER_EVENT_SOURCE
from dpc.lambdas.central import LocalCentral, state_machine_arn
from dpc.lambdas.publisher import EventBridgePublisher
from dpc.lambdas.registry import Registration
from dpc.lambdas.store_dynamodb import why_partition
from dpc.lambdas.trigger_manager import TriggerManager, handler, status_change_event
from dpc.triggers.events import RunEvent, Trigger
from dpc.triggers.memory import CollectingPublisher
from dpc.triggers.model import Condition, Item, ParentRef, Status
from dpc.triggers.periods import PeriodSpec
from dpc.triggers.timefmt import parse_time

EVENTS = Path(__file__).parent / "events"
LISTINGS = ParentRef("listings", "111111111111")
SEARCHES = ParentRef("searches", "222222222222")
X = ParentRef("pipeline-x", "333333333333")
CASE_STUDY = Condition(
    all_of=(Item(LISTINGS, frozenset({"SUCCEEDED"})), Item(SEARCHES, frozenset({"SUCCEEDED"}))),
    reset_cron="0 0 * * ? *",
)


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("dynamodb"), boto3.client("events")


@pytest.fixture
def central(clients: tuple[Any, Any]) -> LocalCentral:
    central = LocalCentral.create(*clients)
    central.register(LISTINGS)
    central.register(SEARCHES)
    central.register(X, CASE_STUDY)
    return central


class Lambda:
    """The handler's logic as deployed, publishing to the (moto) central bus."""

    def __init__(self, central: LocalCentral, wall_clock: str | None = None) -> None:
        """``wall_clock``: the Lambda's clock (fixed); by default always behind the events."""
        bus = EventBridgePublisher(central.settings.event_bus_name, central.events)
        self.publisher = CollectingPublisher(bus)
        clock = datetime.min.replace(tzinfo=UTC) if wall_clock is None else parse_time(wall_clock)
        self.manager: TriggerManager = central.manager(
            publisher=self.publisher, clock=lambda: clock
        )

    def deliver(
        self, time: str, parent: ParentRef, status: Status, execution: str
    ) -> list[Trigger]:
        before = len(self.publisher.published)
        self.manager.handle(
            status_change_event(RunEvent(parse_time(time), parent, status, execution))
        )
        return self.publisher.published[before:]


def test_case_study_pipeline_x_runs_once_a_day_after_both_parents(central: LocalCentral) -> None:
    run = Lambda(central)
    # Day 1: both parents succeed → pipeline-x once, when the second one succeeds
    assert run.deliver("2026-11-27T03:00:00Z", LISTINGS, "RUNNING", "l-27") == []
    assert run.deliver("2026-11-27T03:10:00Z", LISTINGS, "SUCCEEDED", "l-27") == []
    assert run.deliver("2026-11-27T05:00:00Z", SEARCHES, "RUNNING", "s-27") == []
    day1 = run.deliver("2026-11-27T05:10:00Z", SEARCHES, "SUCCEEDED", "s-27")
    assert [[c.execution for c in t.causes] for t in day1] == [["l-27", "s-27"]]
    # Day 2: searches fails → nothing; its rerun succeeds → pipeline-x once
    assert run.deliver("2026-11-28T03:10:00Z", LISTINGS, "SUCCEEDED", "l-28") == []
    assert run.deliver("2026-11-28T05:12:00Z", SEARCHES, "FAILED", "s-28") == []
    day2 = run.deliver("2026-11-28T07:00:00Z", SEARCHES, "SUCCEEDED", "s-28-rerun")
    assert [[c.execution for c in t.causes] for t in day2] == [["l-28", "s-28-rerun"]]
    # Day 3 listings succeeds but searches fails; day 4 searches succeeds first:
    # yesterday's listings success never pairs with today's searches.
    assert run.deliver("2026-11-29T03:10:00Z", LISTINGS, "SUCCEEDED", "l-29") == []
    assert run.deliver("2026-11-29T05:10:00Z", SEARCHES, "FAILED", "s-29") == []
    assert run.deliver("2026-11-30T05:10:00Z", SEARCHES, "SUCCEEDED", "s-30") == []
    day4 = run.deliver("2026-11-30T06:00:00Z", LISTINGS, "SUCCEEDED", "l-30")
    assert [[c.execution for c in t.causes] for t in day4] == [["l-30", "s-30"]]
    # Redelivering every event of day 1 starts nothing again
    for time, parent, execution in [
        ("2026-11-27T03:10:00Z", LISTINGS, "l-27"),
        ("2026-11-27T05:10:00Z", SEARCHES, "s-27"),
    ]:
        assert run.deliver(time, parent, "SUCCEEDED", execution) == []


def test_a_late_success_from_before_the_midnight_reset_never_pairs_with_todays_runs(
    central: LocalCentral,
) -> None:
    run = Lambda(central)
    # Given the clock passed midnight (an event of a parent at 00:00:10 applied the reset)
    assert run.deliver("2026-11-27T05:00:00Z", SEARCHES, "FAILED", "s-27") == []
    assert run.deliver("2026-11-28T00:00:10Z", SEARCHES, "RUNNING", "s-28") == []
    # When yesterday's listings success arrives late, then today's searches succeeds
    assert run.deliver("2026-11-27T23:59:50Z", LISTINGS, "SUCCEEDED", "l-27") == []
    assert run.deliver("2026-11-28T05:00:00Z", SEARCHES, "SUCCEEDED", "s-28") == []
    # Then only today's listings starts pipeline-x, and `dpc why` says why l-27 did not count
    today = run.deliver("2026-11-28T06:00:00Z", LISTINGS, "SUCCEEDED", "l-28")
    assert [[c.execution for c in t.causes] for t in today] == [["l-28", "s-28"]]
    records = central.dynamodb.query(
        TableName=central.settings.trigger_state_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": why_partition(X)}},
    )["Items"]
    notes = [
        json.loads(r["record"]["S"])["notes"] for r in records if r["result"]["S"] == "IGNORED"
    ]
    assert notes == [
        [
            "ignored: listings@111111111111 run at 2026-11-27 23:59 UTC (l-27) "
            "is older than the reset at 2026-11-28 00:00 UTC"
        ]
    ]


def test_a_late_success_from_before_midnight_is_ignored_by_a_child_without_state(
    central: LocalCentral,
) -> None:
    # Given the Lambda's clock is past midnight and pipeline-x was never evaluated
    run = Lambda(central, wall_clock="2026-11-28T00:05:00Z")
    # When yesterday's listings success arrives late, then today's searches succeeds
    assert run.deliver("2026-11-27T23:59:50Z", LISTINGS, "SUCCEEDED", "l-27") == []
    assert run.deliver("2026-11-28T05:00:00Z", SEARCHES, "SUCCEEDED", "s-28") == []
    # Then only today's listings starts pipeline-x, and `dpc why` says why l-27 did not count
    today = run.deliver("2026-11-28T06:00:00Z", LISTINGS, "SUCCEEDED", "l-28")
    assert [[c.execution for c in t.causes] for t in today] == [["l-28", "s-28"]]
    records = central.dynamodb.query(
        TableName=central.settings.trigger_state_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": why_partition(X)}},
    )["Items"]
    notes = [
        json.loads(r["record"]["S"])["notes"] for r in records if r["result"]["S"] == "IGNORED"
    ]
    assert notes == [
        [
            "ignored: listings@111111111111 run at 2026-11-27 23:59 UTC (l-27) "
            "is older than the reset at 2026-11-28 00:00 UTC"
        ]
    ]


def test_trigger_events_reach_the_central_bus_in_the_contract_shape(central: LocalCentral) -> None:
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="triggers")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    bus = central.settings.event_bus_name
    central.events.put_rule(
        Name="route-333333333333",
        EventBusName=bus,
        EventPattern=json.dumps(
            {"source": [TRIGGER_EVENT_SOURCE], "detail": {"account": ["333333333333"]}}
        ),
    )
    central.events.put_targets(
        Rule="route-333333333333", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}]
    )
    run = Lambda(central)
    run.deliver("2026-11-27T03:10:00Z", LISTINGS, "SUCCEEDED", "l-27")
    [trigger] = run.deliver("2026-11-27T05:10:00Z", SEARCHES, "SUCCEEDED", "s-27")

    [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    delivered = json.loads(message["Body"])
    assert delivered["source"] == TRIGGER_EVENT_SOURCE
    assert delivered["detail-type"] == TRIGGER_DETAIL_TYPE
    assert delivered["detail"] == {
        "pipeline": "pipeline-x",
        "account": "333333333333",
        "trigger_id": trigger.trigger_id,
        "causes": [
            {
                "pipeline": "listings",
                "account": "111111111111",
                "status": "SUCCEEDED",
                "execution": "l-27",
                "time": "2026-11-27T03:10:00Z",
                "period": "2026-11-27",
            },
            {
                "pipeline": "searches",
                "account": "222222222222",
                "status": "SUCCEEDED",
                "execution": "s-27",
                "time": "2026-11-27T05:10:00Z",
                "period": "2026-11-27",
            },
        ],
        # a latest child runs for the period containing the trigger time (its unit: day)
        "period": "2026-11-27",
        # the child's run is downstream of these (the run-time cycle guard reads it back)
        "upstream": ["listings@111111111111", "searches@222222222222"],
    }


def test_an_event_naming_another_accounts_pipeline_changes_nothing(central: LocalCentral) -> None:
    # Given account 666666666666 forwards an event naming listings' state machine
    run = Lambda(central)
    spoofed = json.loads((EVENTS / "sfn_spoofed_listings_from_other_account.json").read_text())
    assert run.manager.handle(spoofed) is None
    # Then no run was logged and searches succeeding alone starts nothing
    runs = central.dynamodb.query(
        TableName=central.settings.run_log_table,
        KeyConditionExpression="pipeline = :p",
        ExpressionAttributeValues={":p": {"S": "listings@111111111111"}},
    )
    assert runs["Items"] == []
    assert run.deliver("2026-11-27T05:10:00Z", SEARCHES, "SUCCEEDED", "s-27") == []


def test_the_native_step_functions_event_is_logged_as_a_run(central: LocalCentral) -> None:
    run = Lambda(central)
    native = json.loads((EVENTS / "sfn_listings_succeeded.json").read_text())
    outcome = run.manager.handle(native)
    assert outcome is not None and outcome.acceptance.value == "new"
    [item] = central.dynamodb.query(
        TableName=central.settings.run_log_table,
        IndexName="by-start",
        KeyConditionExpression="pipeline = :p",
        ExpressionAttributeValues={":p": {"S": "listings@111111111111"}},
        ScanIndexForward=False,
    )["Items"]
    assert item["execution"]["S"] == "listings-2026-11-27"
    assert item["status"]["S"] == "SUCCEEDED"
    assert item["started_at"]["S"] == "2026-11-27T03:00:00.000Z"
    assert item["stopped_at"]["S"] == "2026-11-27T03:10:00.000Z"
    assert item["execution_arn"]["S"] == native["detail"]["executionArn"]


def test_runs_are_listed_newest_first_per_pipeline_and_across_pipelines(
    central: LocalCentral,
) -> None:
    run = Lambda(central)
    run.deliver("2026-11-27T03:10:00Z", LISTINGS, "SUCCEEDED", "l-27")
    run.deliver("2026-11-27T05:10:00Z", SEARCHES, "SUCCEEDED", "s-27")
    run.deliver("2026-11-27T09:00:00Z", LISTINGS, "FAILED", "l-27-rerun")
    per_pipeline = central.dynamodb.query(
        TableName=central.settings.run_log_table,
        IndexName="by-start",
        KeyConditionExpression="pipeline = :p",
        ExpressionAttributeValues={":p": {"S": "listings@111111111111"}},
        ScanIndexForward=False,
    )["Items"]
    assert [i["execution"]["S"] for i in per_pipeline] == ["l-27-rerun", "l-27"]
    across = central.dynamodb.query(
        TableName=central.settings.run_log_table,
        IndexName="by-day",
        KeyConditionExpression="#day = :d",
        ExpressionAttributeNames={"#day": "day"},
        ExpressionAttributeValues={":d": {"S": "2026-11-27"}},
        ScanIndexForward=False,
    )["Items"]
    assert [i["execution"]["S"] for i in across] == ["l-27-rerun", "s-27", "l-27"]


def test_runs_within_one_second_are_listed_in_time_order(central: LocalCentral) -> None:
    # Given two runs of listings started on a whole second and half a second later
    run = Lambda(central)
    run.deliver("2026-11-27T05:12:00Z", LISTINGS, "SUCCEEDED", "on-the-second")
    run.deliver("2026-11-27T05:12:00.500Z", LISTINGS, "SUCCEEDED", "half-a-second-later")
    # When the run log is read newest first, as `dpc runs` does
    newest_first = central.dynamodb.query(
        TableName=central.settings.run_log_table,
        IndexName="by-start",
        KeyConditionExpression="pipeline = :p",
        ExpressionAttributeValues={":p": {"S": "listings@111111111111"}},
        ScanIndexForward=False,
    )["Items"]
    # Then the later start comes first (the sort key's text orders as time does)
    assert [i["execution"]["S"] for i in newest_first] == [
        "half-a-second-later",
        "on-the-second",
    ]


def test_why_records_are_queryable_newest_first_with_reasons(central: LocalCentral) -> None:
    run = Lambda(central)
    run.deliver("2026-11-27T03:10:00Z", LISTINGS, "SUCCEEDED", "l-27")
    run.deliver("2026-11-27T05:12:00Z", SEARCHES, "FAILED", "s-27")
    newest = central.dynamodb.query(
        TableName=central.settings.trigger_state_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": why_partition(X)}},
        ScanIndexForward=False,
        Limit=1,
    )["Items"][0]
    record = json.loads(newest["record"]["S"])
    assert record["result"] == "NOT_MET"
    assert [i["reason"] for i in record["items"] if not i["met"]] == [
        "waiting for searches@222222222222: last run FAILED at 2026-11-27 05:12 UTC (s-27), "
        "wants SUCCEEDED"
    ]
    assert int(newest["expires_at"]["N"]) > int(parse_time("2026-11-27T05:12:00Z").timestamp())


def test_child_state_stays_bounded_however_many_runs(central: LocalCentral) -> None:
    run = Lambda(central)

    def state_size() -> int:
        item = central.dynamodb.get_item(
            TableName=central.settings.trigger_state_table,
            Key={"pk": {"S": "CHILD#pipeline-x@333333333333"}, "sk": {"S": "#STATE"}},
        )["Item"]
        return len(json.dumps(item))

    sizes = []
    for run_number in range(60):
        minute = f"2026-11-27T{run_number // 60 + 1:02d}:{run_number % 60:02d}:00Z"
        run.deliver(minute, LISTINGS, "FAILED", f"l-{run_number:03d}")
        sizes.append(state_size())
    assert sizes[-1] == sizes[20]


def test_the_module_handler_reads_its_settings_from_the_environment(
    central: LocalCentral, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = central.settings
    monkeypatch.setenv("DPC_RUN_LOG_TABLE", settings.run_log_table)
    monkeypatch.setenv("DPC_DEPENDENCIES_TABLE", settings.dependencies_table)
    monkeypatch.setenv("DPC_TRIGGER_STATE_TABLE", settings.trigger_state_table)
    monkeypatch.setenv("EVENT_BUS_NAME", settings.event_bus_name)
    monkeypatch.setattr("dpc.lambdas.trigger_manager._manager", None)
    native = json.loads((EVENTS / "sfn_listings_succeeded.json").read_text())
    assert handler(native, None) == {"accepted": "new", "triggers": []}
    assert handler(native, None) == {"accepted": "duplicate", "triggers": []}


def test_a_run_started_by_hand_counts_for_the_period_of_its_pipelines_unit(
    central: LocalCentral,
) -> None:
    # Given an hourly pipeline registered with its period, and a run of it started by hand
    # (no dpc input) at 03:20
    hourly = ParentRef("clicks-hourly", "111111111111")
    central.registry.register(
        Registration(hourly, state_machine_arn(hourly), period=PeriodSpec("hour"))
    )
    Lambda(central).deliver("2026-11-27T03:20:00Z", hourly, "RUNNING", "by-hand")
    # Then the run log logs it for the hour containing its start
    item = central.dynamodb.get_item(
        TableName=central.settings.run_log_table,
        Key={"pipeline": {"S": str(hourly)}, "execution": {"S": "by-hand"}},
    )["Item"]
    assert item["period"] == {"S": "2026-11-27T03"}


def test_a_run_whose_input_names_the_child_upstream_is_blocked_not_started(
    central: LocalCentral,
) -> None:
    # Given listings' run was itself triggered by pipeline-x (its §6 input says so), as a
    # registry edited by hand around the cycle check would allow
    run = Lambda(central)
    looped = RunEvent(
        parse_time("2026-11-27T03:10:00Z"),
        LISTINGS,
        "SUCCEEDED",
        "t-from-x",
        upstream=frozenset({X}),
    )
    run.manager.handle(status_change_event(looped))
    # When searches succeeds and pipeline-x's condition holds
    assert run.deliver("2026-11-27T05:10:00Z", SEARCHES, "SUCCEEDED", "s-27") == []
    # Then pipeline-x is not started, and its record says which cause closes the cycle
    records = central.dynamodb.query(
        TableName=central.settings.trigger_state_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": why_partition(X)}},
        ScanIndexForward=False,
    )["Items"]
    newest = json.loads(records[0]["record"]["S"])
    assert newest["result"] == "BLOCKED"
    assert "cycle through listings@111111111111 (t-from-x)" in newest["notes"][-1]
    # and the next clean day starts it as usual
    run.deliver("2026-11-28T03:10:00Z", LISTINGS, "SUCCEEDED", "l-28")
    assert len(run.deliver("2026-11-28T05:10:00Z", SEARCHES, "SUCCEEDED", "s-28")) == 1
