"""Triggers recorded but never published: kept by re-registration, found and published once
by the central outbox sweep, also when a trigger manager reaches for the same entry."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from dpc.lambdas.central import LocalCentral
from dpc.lambdas.outbox_sweeper import OutboxSweeper, Settings
from dpc.lambdas.publisher import EventBridgePublisher
from dpc.lambdas.trigger_manager import status_change_event
from dpc.observe.outbox import unpublished_triggers
from dpc.triggers.engine import OUTBOX_LEASE
from dpc.triggers.events import RunEvent
from dpc.triggers.memory import CollectingPublisher
from dpc.triggers.model import Condition, Item, ParentRef, Status
from dpc.triggers.periods import period_containing
from dpc.triggers.timefmt import parse_time

SUCCESS = frozenset({"SUCCEEDED"})
LISTINGS = ParentRef("listings", "111111111111")
SEARCHES = ParentRef("searches", "222222222222")
X = ParentRef("pipeline-x", "333333333333")
CASE_STUDY = Condition(
    all_of=(Item(LISTINGS, SUCCESS), Item(SEARCHES, SUCCESS)), reset_cron="0 0 * * ? *"
)
WITHIN_A_DAY = Condition(
    all_of=(Item(LISTINGS, SUCCESS), Item(SEARCHES, SUCCESS)), within=timedelta(days=1)
)
PUT_EVENTS = "before-parameter-build.events.PutEvents"


@pytest.fixture
def central(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalCentral]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        central = LocalCentral.create(boto3.client("dynamodb"), boto3.client("events"))
        for ref in (LISTINGS, SEARCHES):
            central.register(ref)
        central.register(X, CASE_STUDY)
        yield central


def ev(time: str, parent: ParentRef, status: Status, execution: str) -> RunEvent:
    moment = parse_time(time)
    return RunEvent(moment, parent, status, execution, period_containing("day", moment))


def unavailable(**_: Any) -> None:
    raise ClientError({"Error": {"Code": "InternalFailure", "Message": "down"}}, "PutEvents")


class Account:
    """The trigger manager and the sweep on their own connections, one bus, one wall clock."""

    def __init__(self, central: LocalCentral) -> None:
        self.central = central
        self.wall = datetime(2026, 11, 27, 5, 10, tzinfo=UTC)
        self.published = CollectingPublisher(
            EventBridgePublisher(
                central.settings.event_bus_name, central.events, sleep=lambda _: None
            )
        )
        self.manager = central.manager(
            publisher=self.published,
            clock=lambda: datetime.min.replace(tzinfo=UTC),
            wall_clock=lambda: self.wall,
        )
        self.sweeper_dynamodb = boto3.client("dynamodb")
        self.sweeper = OutboxSweeper(
            Settings(central.settings.trigger_state_table, central.settings.event_bus_name),
            dynamodb=self.sweeper_dynamodb,
            publisher=self.published,
        )

    def handle(self, event: RunEvent) -> None:
        self.manager.handle(status_change_event(event))

    def record_without_publishing(self) -> None:
        """Listings then searches succeed; PutEvents is down when the trigger is recorded."""
        self.handle(ev("2026-11-27T03:10:00Z", LISTINGS, "SUCCEEDED", "l"))
        self.central.events.meta.events.register(PUT_EVENTS, unavailable)
        with pytest.raises(ClientError):
            self.handle(ev("2026-11-27T05:10:00Z", SEARCHES, "SUCCEEDED", "s"))
        self.central.events.meta.events.unregister(PUT_EVENTS, unavailable)
        assert self.published_ids() == Counter()

    def recorded_ids(self) -> list[str]:
        records = self.central.dynamodb.scan(
            TableName=self.central.settings.trigger_state_table,
            FilterExpression="begins_with(pk, :t)",
            ExpressionAttributeValues={":t": {"S": "TRIGGER#"}},
        )["Items"]
        return [r["pk"]["S"].removeprefix("TRIGGER#") for r in records]

    def published_ids(self) -> Counter[str]:
        return Counter(t.trigger_id for t in self.published.published)

    def stuck(self) -> list[str]:
        return [
            entry.trigger.trigger_id
            for entry in unpublished_triggers(
                self.central.dynamodb,
                table_name=self.central.settings.trigger_state_table,
                now=self.wall,
                older_than=timedelta(0),
            )
        ]


@pytest.fixture
def account(central: LocalCentral) -> Account:
    return Account(central)


def test_re_registration_between_record_and_publish_still_publishes_once(
    account: Account,
) -> None:
    # Given a trigger recorded, its publish failed
    account.record_without_publishing()
    [recorded] = account.recorded_ids()
    # When pipeline-x is re-registered with a changed condition (a deploy)
    account.central.register(X, WITHIN_A_DAY)
    # Then the next parent event after the lease publishes the recorded trigger, once
    account.wall += OUTBOX_LEASE + timedelta(seconds=1)
    account.handle(ev("2026-11-28T03:00:00Z", LISTINGS, "RUNNING", "l-2"))
    account.handle(ev("2026-11-28T03:01:00Z", LISTINGS, "RUNNING", "l-3"))
    assert account.published_ids() == Counter({recorded: 1})
    assert account.stuck() == []


def test_re_registration_between_record_and_publish_is_repaired_by_the_sweep(
    account: Account,
) -> None:
    # Given a trigger recorded, its publish failed, and pipeline-x re-registered meanwhile
    account.record_without_publishing()
    [recorded] = account.recorded_ids()
    account.central.register(X, WITHIN_A_DAY)
    # When no parent runs again, the sweep after the lease publishes it, and only once
    later = account.wall + OUTBOX_LEASE + timedelta(seconds=1)
    assert account.sweeper.sweep(later).published == (recorded,)
    assert account.sweeper.sweep(later + timedelta(minutes=5)).published == ()
    assert account.published_ids() == Counter({recorded: 1})


def test_re_registration_resets_the_condition_state_so_old_successes_do_not_count(
    account: Account,
) -> None:
    # Given listings succeeded under the old condition
    account.handle(ev("2026-11-27T03:10:00Z", LISTINGS, "SUCCEEDED", "l"))
    # When the condition changes, then searches succeeds
    account.central.register(X, WITHIN_A_DAY)
    account.handle(ev("2026-11-27T05:10:00Z", SEARCHES, "SUCCEEDED", "s"))
    # Then the old condition's listings run was forgotten: nothing fires yet
    assert account.published_ids() == Counter()


def test_the_sweep_publishes_a_stale_trigger_once_and_leaves_a_fresh_one(
    account: Account,
) -> None:
    account.record_without_publishing()
    [recorded] = account.recorded_ids()
    # Within the lease the entry still belongs to the invocation that recorded it
    assert account.sweeper.sweep(account.wall + timedelta(minutes=1)).published == ()
    # After it, the sweep publishes it; a later sweep finds nothing left
    later = account.wall + OUTBOX_LEASE + timedelta(seconds=1)
    assert account.sweeper.sweep(later).published == (recorded,)
    assert account.sweeper.sweep(later + timedelta(minutes=5)).published == ()
    assert account.published_ids() == Counter({recorded: 1})
    # and a parent's next event does not publish it again
    account.wall = later + timedelta(minutes=10)
    account.handle(ev("2026-11-28T03:00:00Z", LISTINGS, "RUNNING", "l-2"))
    assert account.published_ids() == Counter({recorded: 1})


def test_doctor_lists_the_stuck_trigger_from_the_outbox_index_without_a_scan(
    account: Account,
) -> None:
    account.record_without_publishing()
    [recorded] = account.recorded_ids()
    calls: list[tuple[str, str | None]] = []
    account.central.dynamodb.meta.events.register(
        "before-parameter-build.dynamodb",
        lambda model, params, **_: calls.append((model.name, params.get("IndexName"))),
    )
    table = account.central.settings.trigger_state_table
    [stuck] = unpublished_triggers(
        account.central.dynamodb,
        table_name=table,
        now=account.wall + OUTBOX_LEASE,
        older_than=OUTBOX_LEASE,
    )
    assert (stuck.trigger.trigger_id, stuck.child, stuck.period) == (recorded, X, None)
    assert stuck.recorded_at == account.wall
    assert calls == [("Query", "outbox-by-age")]
    # Not yet stale a moment after it was recorded
    fresh = unpublished_triggers(
        account.central.dynamodb, table_name=table, now=account.wall, older_than=OUTBOX_LEASE
    )
    assert fresh == []


def test_a_published_trigger_leaves_the_outbox_index(account: Account) -> None:
    account.handle(ev("2026-11-27T03:10:00Z", LISTINGS, "SUCCEEDED", "l"))
    account.handle(ev("2026-11-27T05:10:00Z", SEARCHES, "SUCCEEDED", "s"))
    assert sum(account.published_ids().values()) == 1
    index = account.central.dynamodb.query(
        TableName=account.central.settings.trigger_state_table,
        IndexName="outbox-by-age",
        KeyConditionExpression="outbox_pk = :o",
        ExpressionAttributeValues={":o": {"S": "OUTBOX"}},
    )
    assert index["Items"] == []


def test_a_sweep_that_finds_the_entry_as_the_trigger_manager_takes_it_publishes_nothing(
    account: Account,
) -> None:
    account.record_without_publishing()
    [recorded] = account.recorded_ids()
    account.wall += OUTBOX_LEASE + timedelta(seconds=1)
    # Given the sweep has read the index, a parent's event reaches the trigger manager,
    # which claims the stale entry and publishes it before the sweep claims it
    manager_first: list[str] = []

    def trigger_manager_meanwhile(params: dict[str, Any], **_: Any) -> None:
        if "claimed_at" in params.get("UpdateExpression", "") and not manager_first:
            manager_first.append("handled")
            account.handle(ev("2026-11-28T03:00:00Z", LISTINGS, "RUNNING", "l-2"))

    account.sweeper_dynamodb.meta.events.register(
        "before-parameter-build.dynamodb.UpdateItem", trigger_manager_meanwhile
    )
    report = account.sweeper.sweep(account.wall)
    # Then the trigger was published once, by the trigger manager
    assert manager_first == ["handled"]
    assert report.published == ()
    assert account.published_ids() == Counter({recorded: 1})


def test_a_trigger_manager_that_loaded_the_entry_as_the_sweep_takes_it_publishes_nothing(
    account: Account,
) -> None:
    account.record_without_publishing()
    [recorded] = account.recorded_ids()
    account.wall += OUTBOX_LEASE + timedelta(seconds=1)
    # Given the trigger manager loaded the state (stale entry in it) when the sweep ran
    sweep_first: list[tuple[str, ...]] = []

    def sweep_meanwhile(params: dict[str, Any], **_: Any) -> None:
        if "claimed_at" in params.get("UpdateExpression", "") and not sweep_first:
            sweep_first.append(account.sweeper.sweep(account.wall).published)

    account.central.dynamodb.meta.events.register(
        "before-parameter-build.dynamodb.UpdateItem", sweep_meanwhile
    )
    account.handle(ev("2026-11-28T03:00:00Z", LISTINGS, "RUNNING", "l-2"))
    # Then the sweep published it and the trigger manager's claim came too late
    assert sweep_first == [(recorded,)]
    assert account.published_ids() == Counter({recorded: 1})


def test_a_sweep_that_dies_after_claiming_is_taken_over_by_the_next_one(
    account: Account,
) -> None:
    account.record_without_publishing()
    [recorded] = account.recorded_ids()
    later = account.wall + OUTBOX_LEASE + timedelta(seconds=1)
    # Given a sweep claimed the entry, then PutEvents failed (the invocation fails)
    account.central.events.meta.events.register(PUT_EVENTS, unavailable)
    with pytest.raises(ClientError):
        account.sweeper.sweep(later)
    account.central.events.meta.events.unregister(PUT_EVENTS, unavailable)
    # Then a sweep within its claim leaves it; the first one after the claim expired
    # publishes it
    assert account.sweeper.sweep(later + timedelta(minutes=1)).held_elsewhere == 1
    assert account.sweeper.sweep(later + OUTBOX_LEASE + timedelta(seconds=1)).published == (
        recorded,
    )
    assert account.published_ids() == Counter({recorded: 1})


def test_a_correlated_childs_unpublished_trigger_is_swept_from_its_period_state(
    account: Account,
) -> None:
    # Given pipeline-x correlates by day, and its trigger for 2026-11-27 was not published
    correlated = Condition(
        all_of=(Item(LISTINGS, SUCCESS), Item(SEARCHES, SUCCESS)), correlate="period"
    )
    account.central.register(X, correlated)
    account.record_without_publishing()
    [recorded] = account.recorded_ids()
    # When the sweep runs after the lease
    later = account.wall + OUTBOX_LEASE + timedelta(seconds=1)
    [stuck] = unpublished_triggers(
        account.central.dynamodb,
        table_name=account.central.settings.trigger_state_table,
        now=later,
        older_than=OUTBOX_LEASE,
    )
    assert str(stuck.period) == "2026-11-27"
    # Then it publishes the trigger for that period, once
    assert account.sweeper.sweep(later).published == (recorded,)
    assert [str(t.period) for t in account.published.published] == ["2026-11-27"]
    assert account.stuck() == []


def test_a_state_left_in_the_index_with_an_empty_outbox_is_taken_out_by_the_sweep(
    account: Account,
) -> None:
    # Given a state whose last entry was cleared by a request that could not tell it was
    # the last (a concurrent clear): it still carries the index keys
    account.handle(ev("2026-11-27T03:10:00Z", LISTINGS, "SUCCEEDED", "l"))
    table = account.central.settings.trigger_state_table
    key = {"pk": {"S": f"CHILD#{X.name}@{X.account}"}, "sk": {"S": "#STATE"}}
    account.central.dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET outbox_pk = :o, outbox_since = :t",
        ExpressionAttributeValues={":o": {"S": "OUTBOX"}, ":t": {"S": "2026-11-27T00:00:00.000Z"}},
    )
    # When the sweep meets it, it publishes nothing and takes the state out of the index
    report = account.sweeper.sweep(account.wall + OUTBOX_LEASE)
    assert (report.published, report.index_entries_tidied) == ((), 1)
    item = account.central.dynamodb.get_item(TableName=table, Key=key)["Item"]
    assert "outbox_pk" not in item and "outbox_since" not in item
    assert item["version"]["N"] == "1"  # the state itself is untouched
