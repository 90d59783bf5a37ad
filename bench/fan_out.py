"""Fan-out at scale (issue 11): one parent with 10, 1,000 and 10,000 children, each child
waiting only on it, on moto DynamoDB. The parent succeeds; the trigger manager evaluates the
first chunk and hands the others to asynchronous invocations of itself, which are then run.

Prints, per fan-out: invocations, requests of the largest invocation and in all (DynamoDB,
PutEvents, Lambda Invoke, counted with botocore events), and the modeled latency of the
largest invocation (requests x MODELED_REQUEST_MS, a pessimistic p99 for DynamoDB and
EventBridge calls inside a region) against the trigger manager's timeout; and, for
comparison, what one invocation evaluating every child (no chunks) would model to.
Target: no invocation past its timeout.

Usage: python bench/fan_out.py [--sizes 10,1000,10000]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import boto3
from moto import mock_aws
from trigger_manager import load, skip_moto_table_snapshots  # bench/ is on sys.path

from dpc.constants import TRIGGER_MANAGER_TIMEOUT_SECONDS
from dpc.lambdas.central import LocalCentral
from dpc.lambdas.trigger_manager import FANOUT_KEY, TriggerManager, logger, status_change_event
from dpc.triggers.engine import FANOUT_CHUNK_SIZE
from dpc.triggers.events import RunEvent
from dpc.triggers.memory import CollectingPublisher
from dpc.triggers.model import Condition, Item, ParentRef

MODELED_REQUEST_MS = 20
PARENT = ParentRef("listings", "111111111111")
ON_SUCCESS = Condition(all_of=(Item(PARENT, frozenset({"SUCCEEDED"})),))


class QueuedInvocations:
    """Lambda's asynchronous Invoke: accepted (202) and queued; the bench runs the queue."""

    def __init__(self) -> None:
        self.queued: list[dict[str, Any]] = []

    def invoke(self, **request: Any) -> dict[str, Any]:
        self.queued.append(json.loads(request["Payload"]))
        return {"StatusCode": 202}


def measure(children: int) -> dict[str, float]:
    refs = [ParentRef(f"child-{n:05d}", f"{200000000000 + n % 1000:012d}") for n in range(children)]
    with mock_aws():
        dynamodb, bus = boto3.client("dynamodb"), boto3.client("events")
        central = LocalCentral.create(dynamodb, bus)
        load(central, {PARENT: None} | {ref: ON_SUCCESS for ref in refs})
        invocations = QueuedInvocations()
        calls = Counter[str]()
        for client in (dynamodb, bus):
            client.meta.events.register("before-call", lambda **_: calls.update(["aws"]))
        original_invoke = invocations.invoke

        def counted_invoke(**request: Any) -> dict[str, Any]:
            calls.update(["aws"])
            return original_invoke(**request)

        invocations.invoke = counted_invoke  # type: ignore[method-assign]
        publisher = CollectingPublisher(None)
        manager = TriggerManager(
            replace(central.settings, function_name="dpc-trigger-manager"),
            dynamodb=dynamodb,
            events=bus,
            publisher=publisher,
            lambda_client=invocations,
        )
        run = RunEvent(datetime(2026, 11, 27, 3, 10, tzinfo=UTC), PARENT, "SUCCEEDED", "l-27")
        per_invocation: list[int] = []
        started = time.perf_counter()
        manager.handle(status_change_event(run))
        per_invocation.append(calls["aws"])
        while invocations.queued:
            before = calls["aws"]
            manager.handle_chunk(invocations.queued.pop()[FANOUT_KEY])
            per_invocation.append(calls["aws"] - before)
        elapsed = time.perf_counter() - started
        assert Counter(t.child for t in publisher.published) == Counter(refs), "a child lost"
    total = sum(per_invocation)
    return {
        "invocations": len(per_invocation),
        "largest": max(per_invocation),
        "total": total,
        "modeled_s": max(per_invocation) * MODELED_REQUEST_MS / 1000,
        "unchunked_s": total * MODELED_REQUEST_MS / 1000,
        "moto_s": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,1000,10000")
    args = parser.parse_args()
    logger.setLevel("WARNING")
    skip_moto_table_snapshots()
    timeout = TRIGGER_MANAGER_TIMEOUT_SECONDS
    print(
        f"fan-out: chunk {FANOUT_CHUNK_SIZE} children, {MODELED_REQUEST_MS} ms a request "
        f"(modeled), timeout {timeout} s"
    )
    over = 0
    for size in (int(s) for s in args.sizes.split(",")):
        f = measure(size)
        over += f["modeled_s"] > timeout
        print(
            f"  {size:>6} children: {f['invocations']:>3.0f} invocations, largest "
            f"{f['largest']:>4.0f} requests ({f['modeled_s']:.1f} s modeled), "
            f"{f['total']:>6.0f} in all; one unchunked invocation would model "
            f"{f['unchunked_s']:.1f} s; {f['moto_s']:.1f} s on moto"
        )
    print(f"invocations past the {timeout} s timeout: {over}")


if __name__ == "__main__":
    main()
