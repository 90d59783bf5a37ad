"""Per-event cost of the trigger manager on moto DynamoDB, for organizations of 100 and
10,000 pipelines across 1,000 accounts (fan-in up to 10 parents, fan-out up to 50 children).
Every size is the smallest one (the template) tiled, and the event stream picks template
pipelines in the same sequence for every size, so each size replays the same fan-out
profile (children per event, fan-in) and the requests-per-event figures are comparable.

Prints, per organization: DynamoDB requests per event (counted with botocore events),
the fixed part of it (requests - 2 x children evaluated - triggers fired, target <= 3),
PutEvents calls per event, p50/p99 handler time (whole, and without the time spent inside
AWS calls, which on moto is moto's), and the largest child state item.
Then the state of one child after 1 and after 500 runs of its parent (bounded state), and
the state of one ``correlate: period`` child over 500 days of daily runs of its two parents
(§5b: one item per open period, TTL after keep; what DynamoDB holds is the live items).
``--correlated F`` makes a fraction F of the children ``correlate: period`` (default 0.5).

Usage: python bench/trigger_manager.py [--events N] [--sizes 100,10000]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3
from moto import mock_aws

from dpc.lambdas.central import LocalCentral, state_machine_arn
from dpc.lambdas.registry import Registration
from dpc.lambdas.trigger_manager import logger, status_change_event
from dpc.triggers.events import RunEvent
from dpc.triggers.memory import CollectingPublisher
from dpc.triggers.model import Condition, Item, ParentRef, Status

ACCOUNTS = [f"{100000000000 + n:012d}" for n in range(1000)]
MAX_FAN_IN, MAX_FAN_OUT = 10, 50
START = datetime(2026, 11, 27, tzinfo=UTC)
SUCCESS: frozenset[Status] = frozenset({"SUCCEEDED"})


def template(
    size: int, rng: random.Random, correlated: float = 0.0
) -> dict[ParentRef, Condition | None]:
    """The first fifth are scheduled roots; every other pipeline waits for 1-10 earlier ones
    (allOf 70%, anyOf 30%), never more than 50 children per parent: a DAG by construction."""
    refs = [ParentRef(f"p{n}", rng.choice(ACCOUNTS)) for n in range(size)]
    children = dict.fromkeys(refs, 0)
    org: dict[ParentRef, Condition | None] = {}
    for index, ref in enumerate(refs):
        open_parents = [p for p in refs[:index] if children[p] < MAX_FAN_OUT]
        if index < size // 5 or not open_parents:
            org[ref] = None
            continue
        parents = rng.sample(open_parents, min(len(open_parents), rng.randint(1, MAX_FAN_IN)))
        for parent in parents:
            children[parent] += 1
        items = tuple(Item(p, SUCCESS) for p in parents)
        condition = Condition(all_of=items) if rng.random() < 0.7 else Condition(any_of=items)
        org[ref] = condition
    # Drawn after the shape, so the fan-out profile is the same whatever the fraction.
    mode = random.Random(rng.random())
    return {
        ref: replace(c, correlate="period") if c and mode.random() < correlated else c
        for ref, c in org.items()
    }


def tiled(base: dict[ParentRef, Condition | None], copy: int) -> dict[ParentRef, Condition | None]:
    """Copy ``copy`` of the template, in other accounts: the same shape, its own pipelines."""

    def moved(ref: ParentRef) -> ParentRef:
        if copy == 0:
            return ref
        account = ACCOUNTS[(ACCOUNTS.index(ref.account) + copy) % len(ACCOUNTS)]
        return ParentRef(f"{ref.name}-c{copy}", account)

    def condition(original: Condition) -> Condition:
        return replace(
            original,
            all_of=tuple(replace(i, parent=moved(i.parent)) for i in original.all_of),
            any_of=tuple(replace(i, parent=moved(i.parent)) for i in original.any_of),
        )

    return {moved(r): None if c is None else condition(c) for r, c in base.items()}


def organization(base: dict[ParentRef, Condition | None], size: int) -> list[list[ParentRef]]:
    """``size // len(base)`` copies of the template, as [template index][copy] → pipeline.

    Every organization size is made of the same template, so every pipeline has the same
    children and fan-in in every size: the replayed fan-out profile is the same, and only the
    registry's size differs between the figures."""
    copies = [tiled(base, copy) for copy in range(size // len(base))]
    return [list(column) for column in zip(*(list(c) for c in copies), strict=True)]


def conditions(
    base: dict[ParentRef, Condition | None], size: int
) -> dict[ParentRef, Condition | None]:
    return {r: c for copy in range(size // len(base)) for r, c in tiled(base, copy).items()}


def load(central: LocalCentral, org: dict[ParentRef, Condition | None]) -> None:
    """Bulk-load the registry with the registry's own item shapes (BatchWriteItem)."""
    items = [
        item
        for ref, condition in org.items()
        for item in central.registry.items(Registration(ref, state_machine_arn(ref), condition))
    ]
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        central.dynamodb.batch_write_item(
            RequestItems={central.settings.dependencies_table: requests}
        )


def stream(pipelines: list[list[ParentRef]], count: int, seed: int) -> Iterator[RunEvent]:
    """Runs of random pipelines: RUNNING then SUCCEEDED (FAILED one time in ten), in time order.

    Which template pipeline runs, and how, comes from one generator whatever the size (the
    same sequence for every organization); which copy of it runs comes from another."""
    runs, copies = random.Random(seed), random.Random(seed + 1)
    moment = START
    run = 0
    while True:
        ref = runs.choice(pipelines)
        run += 1
        instance = ref[copies.randrange(len(ref))]
        for status in ("RUNNING", "FAILED" if runs.random() < 0.1 else "SUCCEEDED"):
            moment += timedelta(seconds=30)
            yield RunEvent(moment, instance, status, f"run-{run}")  # type: ignore[arg-type]
            count -= 1
            if count == 0:
                return


@dataclass
class Figures:
    requests: list[int]
    fixed: list[int]
    put_events: list[int]
    children: list[int]
    triggers: list[int]
    millis: list[float]
    own_millis: list[float]
    over_budget: int
    largest_state: int
    cancelled: int


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class _NoTableSnapshots:
    """moto deep-copies every table a TransactWriteItems touches (its rollback snapshot), which
    makes moto, not the handler, the cost: O(table size) per transaction. The replay here is
    single-threaded, so no transaction is ever cancelled (checked: ``cancelled`` below) and the
    snapshot is never used; ``--moto-snapshots`` keeps moto as it is."""

    @staticmethod
    def deepcopy(value: Any) -> Any:
        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else copy.deepcopy(value)


def skip_moto_table_snapshots() -> None:
    import moto.dynamodb.models

    moto.dynamodb.models.copy = _NoTableSnapshots  # type: ignore[assignment]


def measure(base: dict[ParentRef, Condition | None], size: int, events: int, seed: int) -> Figures:
    org = conditions(base, size)
    with mock_aws():
        dynamodb, bus = boto3.client("dynamodb"), boto3.client("events")
        central = LocalCentral.create(dynamodb, bus)
        load(central, org)
        calls: dict[str, int] = {"dynamodb": 0, "put_events": 0}

        def count_dynamodb(**_: Any) -> None:
            calls["dynamodb"] += 1

        def count_put_events(**_: Any) -> None:
            calls["put_events"] += 1

        dynamodb.meta.events.register("before-call.dynamodb", count_dynamodb)
        bus.meta.events.register("before-call.events.PutEvents", count_put_events)
        manager = central.manager(publisher=None)
        manager.engine.publisher = CollectingPublisher(manager.engine.publisher)
        figures = Figures([], [], [], [], [], [], [], 0, 0, 0)
        in_aws = {"since": 0.0, "total": 0.0}

        def call_started(**_: Any) -> None:
            in_aws["since"] = time.perf_counter()

        def call_ended(**_: Any) -> None:
            in_aws["total"] += time.perf_counter() - in_aws["since"]

        for client in (dynamodb, bus):
            client.meta.events.register("before-call", call_started)
            client.meta.events.register("after-call", call_ended)

        def count_cancelled(parsed: dict[str, Any], **_: Any) -> None:
            figures.cancelled += "Error" in parsed  # a commit cancelled (conflict or duplicate)

        dynamodb.meta.events.register("after-call.dynamodb.TransactWriteItems", count_cancelled)
        for event in stream(organization(base, size), events, seed):
            before = dict(calls)
            aws_before = in_aws["total"]
            started = time.perf_counter()
            outcome = manager.handle(status_change_event(event))
            elapsed = time.perf_counter() - started
            figures.millis.append(elapsed * 1000)
            figures.own_millis.append((elapsed - (in_aws["total"] - aws_before)) * 1000)
            assert outcome is not None
            requests = calls["dynamodb"] - before["dynamodb"]
            children, fired = len(outcome.evaluations), len(outcome.published)
            figures.requests.append(requests)
            figures.fixed.append(requests - 2 * children - fired)
            figures.put_events.append(calls["put_events"] - before["put_events"])
            figures.children.append(children)
            figures.triggers.append(fired)
            figures.over_budget += requests > 3 + 2 * children + fired
        states = dynamodb.scan(
            TableName=central.settings.trigger_state_table,
            FilterExpression="begins_with(pk, :c)",
            ExpressionAttributeValues={":c": {"S": "CHILD#"}},
        )["Items"]
        figures.largest_state = max((len(json.dumps(item)) for item in states), default=0)
    return figures


def state_growth(runs: int) -> list[int]:
    """Size of one child's state after each of ``runs`` runs of its parent."""
    parent, other, child = (ParentRef(n, ACCOUNTS[i]) for i, n in enumerate(("a", "b", "c")))
    with mock_aws():
        central = LocalCentral.create(boto3.client("dynamodb"), boto3.client("events"))
        central.register(parent)
        central.register(other)
        central.register(child, Condition(all_of=(Item(parent, SUCCESS), Item(other, SUCCESS))))
        manager = central.manager()
        sizes = []
        for run in range(runs):
            moment = START + timedelta(minutes=run)
            manager.handle(
                status_change_event(RunEvent(moment, parent, "FAILED", f"run-{run:05d}"))
            )
            item = central.dynamodb.get_item(
                TableName=central.settings.trigger_state_table,
                Key={"pk": {"S": "CHILD#c@" + ACCOUNTS[2]}, "sk": {"S": "#STATE"}},
            )["Item"]
            sizes.append(len(json.dumps(item)))
    return sizes


def period_state_growth(days: int, keep_days: int = 35) -> list[tuple[int, int, int]]:
    """(day, live items, live bytes) of one correlated child's state over ``days`` days of
    daily runs of both parents. Live: not past its TTL (moto runs no TTL sweep; DynamoDB
    deletes expired items, and the engine never reads a closed period)."""
    parent, other, child = (ParentRef(n, ACCOUNTS[i]) for i, n in enumerate(("a", "b", "c")))
    condition = Condition(
        all_of=(Item(parent, SUCCESS), Item(other, SUCCESS)),
        correlate="period",
        keep=timedelta(days=keep_days),
    )
    with mock_aws():
        central = LocalCentral.create(boto3.client("dynamodb"), boto3.client("events"))
        central.register(parent)
        central.register(other)
        central.register(child, condition)
        clock: list[datetime] = [START]
        manager = central.manager(clock=lambda: clock[-1])
        figures = []
        for day in range(days):
            for hour, ref in ((3, parent), (5, other)):
                moment = START + timedelta(days=day, hours=hour)
                clock.append(moment)
                run = RunEvent(moment, ref, "SUCCEEDED", f"{ref.name}-{day:04d}")
                manager.handle(status_change_event(run))
            if day + 1 in (1, 10, 50, 100, 500) or day + 1 == days:
                items = central.dynamodb.query(
                    TableName=central.settings.trigger_state_table,
                    KeyConditionExpression="pk = :pk",
                    ExpressionAttributeValues={":pk": {"S": "CHILD#c@" + ACCOUNTS[2]}},
                )["Items"]
                now = clock[-1].timestamp()
                live = [i for i in items if int(i.get("expires_at", {}).get("N", "0")) > now]
                figures.append((day + 1, len(live), sum(len(json.dumps(i)) for i in live)))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--sizes", default="100,10000")
    parser.add_argument("--seed", type=int, default=27)
    parser.add_argument("--correlated", type=float, default=0.5)
    parser.add_argument(
        "--moto-snapshots",
        action="store_true",
        help="keep moto's whole-table deep copy per transaction (times then measure moto)",
    )
    args = parser.parse_args()
    if not args.moto_snapshots:
        skip_moto_table_snapshots()
    logger.setLevel("CRITICAL")
    snapshots = "kept" if args.moto_snapshots else "skipped (no transaction is cancelled)"
    print(f"trigger manager on moto DynamoDB, {args.events} status events per organization")
    print(f"moto's whole-table copy per TransactWriteItems: {snapshots}")
    header = (
        f"{'pipelines':>9} {'req/event':>9} {'fixed req':>9} {'max fixed':>9} "
        f"{'children':>8} {'triggers':>8} {'PutEvents':>9} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'own p50':>7} {'own p99':>7} "
        f"{'over budget':>11} {'max state B':>11} {'cancelled':>9}"
    )
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if any(size % sizes[0] for size in sizes):
        parser.error("--sizes: every size must be a multiple of the smallest (the template)")
    base = template(sizes[0], random.Random(args.seed), args.correlated)
    share = sum(1 for c in base.values() if c and c.correlated) / max(
        1, sum(1 for c in base.values() if c)
    )
    print(f"children with correlate: period: {share:.0%}")
    print(header)
    results = {}
    for size in sizes:
        f = measure(base, size, args.events, args.seed)
        results[size] = f
        print(
            f"{size:>9} {statistics.mean(f.requests):>9.2f} {statistics.mean(f.fixed):>9.2f} "
            f"{max(f.fixed):>9} {statistics.mean(f.children):>8.2f} "
            f"{statistics.mean(f.triggers):>8.3f} {statistics.mean(f.put_events):>9.3f} "
            f"{percentile(f.millis, 0.5):>7.2f} {percentile(f.millis, 0.99):>7.2f} "
            f"{percentile(f.own_millis, 0.5):>7.2f} {percentile(f.own_millis, 0.99):>7.2f} "
            f"{f.over_budget:>11} {f.largest_state:>11} {f.cancelled:>9}"
        )
        sys.stdout.flush()
    print(
        f"every size replays the same fan-out profile ({sizes[0]}-pipeline template tiled); "
        "requests per event: "
        + ", ".join(f"{size} → {statistics.mean(results[size].requests):.2f}" for size in sizes)
    )
    if len(results) >= 2:
        small, large = results[sizes[0]], results[sizes[-1]]
        ratio = statistics.mean(large.fixed) / statistics.mean(small.fixed)
        print(f"fixed requests per event, largest / smallest organization: {ratio:.3f}")
    print(
        "p50/p99 ms: whole handler on moto (moto's Query reads every item of the table, so\n"
        "  it grows with the registry there, not on DynamoDB); own: the handler without the\n"
        "  time inside AWS calls."
    )
    growth = state_growth(500)
    after = ", ".join(f"{growth[n - 1]} B after {n}" for n in (1, 5, 10, 50, 500))
    print(f"one child's state item, by number of parent runs: {after}")
    periods = period_state_growth(500)
    shown = ", ".join(f"day {d}: {n} items {b} B" for d, n, b in periods)
    print(f"one correlate: period child (keep 35d), live state after daily runs: {shown}")


if __name__ == "__main__":
    main()
