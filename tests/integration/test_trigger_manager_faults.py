"""Exactly once under races and crashes: 8 concurrent invocations with duplicated, shuffled
deliveries; a crash between recording and publishing; throttling anywhere, then redelivery."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from queue import Empty, Queue
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

from dpc.lambdas.central import LocalCentral
from dpc.lambdas.publisher import EventBridgePublisher
from dpc.lambdas.trigger_manager import TriggerManager, status_change_event
from dpc.triggers.engine import OUTBOX_LEASE
from dpc.triggers.events import RunEvent, trigger_id
from dpc.triggers.memory import CollectingPublisher
from dpc.triggers.model import Condition, Item, ParentRef, Status
from dpc.triggers.periods import period_containing
from dpc.triggers.replay import replay_in_memory
from dpc.triggers.timefmt import parse_time

SUCCESS = frozenset({"SUCCEEDED"})
LISTINGS = ParentRef("listings", "111111111111")
SEARCHES = ParentRef("searches", "222222222222")
X = ParentRef("pipeline-x", "333333333333")
CASE_STUDY = Condition(
    all_of=(Item(LISTINGS, SUCCESS), Item(SEARCHES, SUCCESS)), reset_cron="0 0 * * ? *"
)


@pytest.fixture
def central(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalCentral]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    # DynamoDB applies each request atomically; in-process moto does not when threads
    # interleave inside one request. Serialize requests (not the handler) as the service does.
    lock = threading.Lock()
    original = BotocoreStubber.__call__

    def atomic(self: BotocoreStubber, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", atomic)
    with mock_aws():
        yield LocalCentral.create(boto3.client("dynamodb"), boto3.client("events"))


def ev(time: str, parent: ParentRef, status: Status, execution: str) -> RunEvent:
    """A run of the day it happens in (the period a run without dpc input counts for)."""
    moment = parse_time(time)
    return RunEvent(moment, parent, status, execution, period_containing("day", moment))


class Invocations:
    """Lambda invocations sharing one bus; a wall clock the test moves (Lambda retry delays)."""

    def __init__(self, central: LocalCentral) -> None:
        bus = EventBridgePublisher(
            central.settings.event_bus_name, central.events, sleep=lambda _: None
        )
        self.publisher = CollectingPublisher(bus)
        self.wall = datetime(2026, 11, 27, tzinfo=UTC)
        self.clock = datetime.min.replace(tzinfo=UTC)
        self.central = central

    def manager(self) -> TriggerManager:
        return self.central.manager(
            publisher=self.publisher, clock=lambda: self.clock, wall_clock=lambda: self.wall
        )

    def published_ids(self) -> Counter[str]:
        return Counter(t.trigger_id for t in self.publisher.published)


def test_eight_concurrent_invocations_with_duplicates_trigger_each_child_exactly_once(
    central: LocalCentral,
) -> None:
    # Given 20 children, each waiting for one shared parent and one parent of its own
    shared = ParentRef("shared", "111111111111")
    own = [ParentRef(f"own-{i}", "222222222222") for i in range(20)]
    children = [ParentRef(f"child-{i}", "333333333333") for i in range(20)]
    central.register(shared)
    for parent, child in zip(own, children, strict=True):
        central.register(parent)
        central.register(child, Condition(all_of=(Item(shared, SUCCESS), Item(parent, SUCCESS))))
    successes = {
        parent: ev(f"2026-11-27T0{1 + i % 8}:30:00Z", parent, "SUCCEEDED", f"{parent.name}-1")
        for i, parent in enumerate([shared, *own])
    }
    stream = [
        event
        for parent, success in successes.items()
        for event in (ev("2026-11-27T00:10:00Z", parent, "RUNNING", success.execution), success)
    ]
    # When every event is delivered one to three times, shuffled, to 8 concurrent invocations
    rng = random.Random(20261127)
    deliveries = [event for event in stream for _ in range(rng.randint(1, 3))]
    rng.shuffle(deliveries)
    invocations = Invocations(central)
    queue: Queue[RunEvent] = Queue()
    for event in deliveries:
        queue.put(event)
    errors: list[BaseException] = []

    def worker() -> None:
        manager = invocations.manager()
        while True:
            try:
                event = queue.get_nowait()
            except Empty:
                return
            try:
                manager.handle(status_change_event(event))
            except BaseException as error:  # surfaced below, with the event
                errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every child started exactly once, with its two parents' successes as causes
    assert errors == []
    expected = {
        trigger_id(child, [successes[shared], successes[parent]]): 1
        for parent, child in zip(own, children, strict=True)
    }
    assert invocations.published_ids() == expected


def test_a_crash_between_recording_and_publishing_is_repaired_by_the_redelivery(
    central: LocalCentral,
) -> None:
    for ref in (LISTINGS, SEARCHES):
        central.register(ref)
    central.register(X, CASE_STUDY)
    invocations = Invocations(central)
    manager = invocations.manager()
    manager.handle(status_change_event(ev("2026-11-27T03:10:00Z", LISTINGS, "SUCCEEDED", "l")))
    searches = status_change_event(ev("2026-11-27T05:10:00Z", SEARCHES, "SUCCEEDED", "s"))

    # Given PutEvents fails after the trigger was recorded (the invocation dies)
    def unavailable(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalFailure", "Message": "down"}}, "PutEvents")

    central.events.meta.events.register("before-parameter-build.events.PutEvents", unavailable)
    with pytest.raises(ClientError):
        manager.handle(searches)
    central.events.meta.events.unregister("before-parameter-build.events.PutEvents", unavailable)
    assert invocations.published_ids() == Counter()
    records = central.dynamodb.scan(
        TableName=central.settings.trigger_state_table,
        FilterExpression="begins_with(pk, :t)",
        ExpressionAttributeValues={":t": {"S": "TRIGGER#"}},
    )["Items"]
    assert len(records) == 1

    # When the event is redelivered while the crashed invocation's lease still runs: not yet
    manager.handle(searches)
    assert invocations.published_ids() == Counter()
    # and when it comes again after the lease (Lambda's retries, or a parent's next event),
    # the recorded trigger is published once
    invocations.wall += OUTBOX_LEASE + timedelta(seconds=1)
    manager.handle(searches)
    manager.handle(searches)
    [trigger_record] = records
    recorded_id = trigger_record["pk"]["S"].removeprefix("TRIGGER#")
    assert invocations.published_ids() == Counter({recorded_id: 1})


def test_throttling_anywhere_then_redelivery_ends_with_exactly_the_expected_triggers(
    central: LocalCentral,
) -> None:
    for ref in (LISTINGS, SEARCHES):
        central.register(ref)
    central.register(X, CASE_STUDY)
    stream = []
    for day in range(27, 31):
        date = f"2026-11-{day}"
        stream += [
            ev(f"{date}T03:00:00Z", LISTINGS, "RUNNING", f"l-{day}"),
            ev(f"{date}T03:10:00Z", LISTINGS, "SUCCEEDED", f"l-{day}"),
            ev(f"{date}T05:10:00Z", SEARCHES, "FAILED" if day == 28 else "SUCCEEDED", f"s-{day}"),
        ]
        if day == 28:
            stream.append(ev(f"{date}T07:00:00Z", SEARCHES, "SUCCEEDED", f"s-{day}-rerun"))
    stream += stream[:4]  # late duplicates
    expected = [
        t for _, outcome in replay_in_memory({X: CASE_STUDY}, stream) for t in outcome.published
    ]
    assert len(expected) == 4

    # Given one request in five fails with throttling, DynamoDB and EventBridge alike
    rng = random.Random(5)
    failed_marks: list[str] = []

    def throttle(params: dict[str, Any], model: Any, **_: Any) -> None:
        if rng.random() < 0.2:
            if str(params.get("UpdateExpression", "")).startswith("REMOVE outbox"):
                failed_marks.append(model.name)
            code = "ThrottlingException"
            raise ClientError({"Error": {"Code": code, "Message": "slow down"}}, model.name)

    invocations = Invocations(central)
    manager = invocations.manager()
    central.dynamodb.meta.events.register("before-parameter-build.dynamodb", throttle)
    central.events.meta.events.register("before-parameter-build.events", throttle)
    attempts = 0
    # When each event is redelivered (a minute apart, like Lambda retries) until it succeeds
    for event in stream:
        invocations.clock = max(invocations.clock, event.time)
        for _ in range(50):
            attempts += 1
            try:
                manager.handle(status_change_event(event))
                break
            except ClientError:
                invocations.wall += timedelta(minutes=1)
        else:
            pytest.fail(f"{event} never went through")
    # Then exactly the expected triggers were published; a trigger is published again only
    # when marking it published failed after PutEvents succeeded (consumers dedupe on its id)
    published = invocations.published_ids()
    assert set(published) == {t.trigger_id for t in expected}
    assert sum(published.values()) - len(published) <= len(failed_marks)
    assert attempts > len(stream)  # faults were really injected
