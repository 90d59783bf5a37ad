"""The outbox lease outlives the trigger manager's timeout: an invocation that recorded a
trigger and is still running (publishing late, within its timeout) keeps it to itself."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from dpc.lambdas.central import LocalCentral
from dpc.lambdas.trigger_manager import TriggerManager, status_change_event
from dpc.triggers.events import RunEvent, Trigger
from dpc.triggers.model import Condition, Item, ParentRef
from dpc.triggers.periods import period_containing
from dpc.triggers.timefmt import parse_time

LISTINGS = ParentRef("listings", "111111111111")
X = ParentRef("pipeline-x", "333333333333")


@pytest.fixture
def central(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalCentral]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        central = LocalCentral.create(boto3.client("dynamodb"), boto3.client("events"))
        central.register(LISTINGS)
        central.register(X, Condition(all_of=(Item(LISTINGS, frozenset({"SUCCEEDED"})),)))
        yield central


def test_a_trigger_still_being_published_within_the_timeout_is_not_republished(
    central: LocalCentral,
) -> None:
    moment = parse_time("2026-11-27T03:10:00Z")
    event = status_change_event(
        RunEvent(moment, LISTINGS, "SUCCEEDED", "l-1", period_containing("day", moment))
    )
    wall = [datetime(2026, 11, 27, 4, tzinfo=UTC)]
    published: list[Trigger] = []

    def manager(publisher: object) -> TriggerManager:
        return central.manager(publisher=publisher, wall_clock=lambda: wall[0])

    class Concurrent:
        def publish(self, triggers: Sequence[Trigger]) -> None:
            published.extend(triggers)

    class Late:
        """The first invocation: recorded the trigger, publishes it 45 s later (past the old
        30 s lease, within the 60 s timeout); meanwhile a concurrent invocation gets the same
        event again (EventBridge delivers at least once)."""

        def publish(self, triggers: Sequence[Trigger]) -> None:
            wall[0] += timedelta(seconds=45)
            manager(Concurrent()).handle(event)
            published.extend(triggers)

    manager(Late()).handle(event)
    # Then the child is triggered once: the concurrent invocation left it to its owner
    assert [t.child for t in published] == [X]
