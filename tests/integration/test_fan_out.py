"""Fan-out at scale (issue 11 item 4): a parent with more children than one invocation may
evaluate has the first chunk evaluated by the invocation the event reached and every other
chunk handed to an asynchronous invocation of the trigger manager itself; each child is
evaluated and started exactly once, however the chunks are delivered, and no invocation's
work grows with the fan-out."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from dpc.lambdas.central import LocalCentral, state_machine_arn
from dpc.lambdas.publisher import EventBridgePublisher
from dpc.lambdas.registry import Registration
from dpc.lambdas.trigger_manager import FANOUT_KEY, TriggerManager, status_change_event
from dpc.triggers.engine import FANOUT_CHUNK_SIZE, TriggerEngine
from dpc.triggers.events import RunEvent
from dpc.triggers.memory import CollectingPublisher, MemoryStore
from dpc.triggers.model import Condition, Item, ParentRef

PARENT = ParentRef("listings", "111111111111")
ON_SUCCESS = Condition(all_of=(Item(PARENT, frozenset({"SUCCEEDED"})),))
DONE = RunEvent(datetime(2026, 11, 27, 3, 10, tzinfo=UTC), PARENT, "SUCCEEDED", "l-27")


def children(count: int) -> list[ParentRef]:
    return [ParentRef(f"child-{n:05d}", f"{200000000000 + n % 50:012d}") for n in range(count)]


@dataclass
class AsyncLambda:
    """Lambda's asynchronous ``Invoke`` as the trigger manager meets it: the call returns
    once the invocation is queued (202); the test then runs what was queued."""

    queued: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        assert (FunctionName, InvocationType) == ("dpc-trigger-manager", "Event")
        self.queued.append(json.loads(Payload))
        return {"StatusCode": 202}


@pytest.fixture
def central(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalCentral]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield LocalCentral.create(boto3.client("dynamodb"), boto3.client("events"))


def register_in_bulk(central: LocalCentral, refs: list[ParentRef]) -> None:
    """The registry's own items, written in batches (registering one by one is the
    registry's test; here only the fan-out is)."""
    registrations = [Registration(PARENT, state_machine_arn(PARENT))] + [
        Registration(ref, state_machine_arn(ref), ON_SUCCESS) for ref in refs
    ]
    items = [item for r in registrations for item in central.registry.items(r)]
    for start in range(0, len(items), 25):
        central.dynamodb.batch_write_item(
            RequestItems={
                central.settings.dependencies_table: [
                    {"PutRequest": {"Item": item}} for item in items[start : start + 25]
                ]
            }
        )


CHUNK = 20
"""On moto, chunks of 20 (each TransactWriteItems copies moto's tables, so 450 children
would take a minute); the engine's own chunk size is the 10,000-children test's."""


def test_45_children_in_chunks_of_20_are_started_once_each_by_three_bounded_invocations(
    central: LocalCentral,
) -> None:
    # Given a parent with 45 children, and the trigger manager running as a Lambda function
    register_in_bulk(central, children(45))
    lambda_service = AsyncLambda()
    publisher = CollectingPublisher(
        EventBridgePublisher(central.settings.event_bus_name, central.events)
    )
    settings = replace(central.settings, function_name="dpc-trigger-manager")
    manager = TriggerManager(
        settings,
        dynamodb=central.dynamodb,
        events=central.events,
        publisher=publisher,
        lambda_client=lambda_service,
    )
    manager.engine.chunk_size = CHUNK
    requests = Counter[str]()
    central.dynamodb.meta.events.register(
        "before-call.dynamodb", lambda **_: requests.update(["dynamodb"])
    )
    # When the parent succeeds
    outcome = manager.handle(status_change_event(DONE))
    assert outcome is not None
    first = requests["dynamodb"]
    # Then that invocation evaluated one chunk and queued two more (20 and 5 children)
    assert len(outcome.evaluations) == CHUNK
    assert outcome.handed_off == 25
    assert [len(q[FANOUT_KEY]["children"]) for q in lambda_service.queued] == [20, 5]
    # When Lambda runs the queued chunks, the first one twice (at-least-once delivery)
    per_invocation = [first]
    for payload in [lambda_service.queued[0], *lambda_service.queued]:
        before = requests["dynamodb"]
        manager.handle_chunk(payload[FANOUT_KEY])
        per_invocation.append(requests["dynamodb"] - before)
    # Then every child started exactly once, for the parent's run
    started = Counter(t.child for t in publisher.published)
    assert started == Counter(children(45))
    assert {c.execution for t in publisher.published for c in t.causes} == {"l-27"}
    # and no invocation did more than a chunk's work: about two requests per child
    assert max(per_invocation) <= 2.2 * CHUNK + 10
    # and a second delivery of the parent's event changes nothing and queues nothing
    assert manager.handle(status_change_event(DONE)).published == ()  # type: ignore[union-attr]
    assert len(lambda_service.queued) == 2


def test_a_chunk_skips_a_child_deregistered_after_the_hand_off(central: LocalCentral) -> None:
    register_in_bulk(central, children(3))
    named = children(3)
    central.registry.deregister(named[1])
    found = central.registry.conditions_of(PARENT, named)
    assert [child for child, _ in found] == [named[0], named[2]]
    assert all(condition == ON_SUCCESS for _, condition in found)


def test_10000_children_each_evaluated_once_no_invocation_past_one_chunk() -> None:
    # Given a parent with 10,000 children (the registry's limit), on the engine's own store
    refs = children(10_000)
    store = MemoryStore()
    publisher = CollectingPublisher()
    queued: list[tuple[RunEvent, list[tuple[ParentRef, Condition]], datetime]] = []
    engine = TriggerEngine(
        store, publisher, hand_off=lambda e, chunk, now: queued.append((e, list(chunk), now))
    )
    # When the parent succeeds, and every handed-off chunk runs as its own invocation
    outcome = engine.process(DONE, [(ref, ON_SUCCESS) for ref in refs], DONE.time)
    sizes = [len(outcome.evaluations)]
    while queued:
        event, chunk, now = queued.pop()
        evaluated = engine.evaluate(event, chunk, now)
        sizes.append(len(evaluated.evaluations))
    # Then every child was evaluated exactly once and started exactly once
    assert sum(sizes) == 10_000
    assert Counter(t.child for t in publisher.published) == Counter(refs)
    # by 50 invocations, none evaluating more than one chunk
    assert len(sizes) == 10_000 // FANOUT_CHUNK_SIZE
    assert max(sizes) == FANOUT_CHUNK_SIZE
