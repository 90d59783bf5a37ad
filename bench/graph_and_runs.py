"""`dpc graph` and `dpc runs` at size.

Graph: build + layout + render (Mermaid, DOT, HTML) for cycle-free orgs of 200 and 2,000
pipelines in 20 accounts (up to 3 parents each), with the HTML file size.
Runs: `dpc runs` reading the newest 50 of 2,000 runs over 10 days on moto DynamoDB — Query
requests sent, items read, wall time — for one pipeline (LSI) and for all (by-day GSI).

Usage: python bench/graph_and_runs.py
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from dpc.lineage.graph import build
from dpc.lineage.render import layout, to_dot, to_html, to_mermaid
from dpc.spec.model import Pipeline, Schedule, Step, Trigger
from dpc.triggers.model import Condition, Item, ParentRef

ACCOUNTS = [f"{100000000000 + i}" for i in range(20)]


def org(size: int, seed: int = 1) -> list[Pipeline]:
    rng = random.Random(seed)
    refs = [ParentRef(f"p{i:04d}", ACCOUNTS[i % len(ACCOUNTS)]) for i in range(size)]
    pipelines = []
    for i, ref in enumerate(refs):
        parents = rng.sample(refs[max(0, i - 50) : i], min(i, rng.randint(1, 3)))
        condition = (
            Condition(all_of=tuple(Item(p, frozenset({"SUCCEEDED"})) for p in parents))
            if i >= 20
            else None
        )
        schedule = Schedule(f"cron(0 {i % 24} * * ? *)") if condition is None else None
        pipelines.append(
            Pipeline(
                name=ref.name,
                account=ref.account,
                steps=(Step("run", "shell", "run.sh"),),
                trigger=Trigger(schedule=schedule, executions=condition),
            )
        )
    return pipelines


def best_of(runs: int, work: Callable[..., object], *args: object) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def bench_graph() -> None:
    print("graph: build, layout and rendering time (best of 3), HTML size, layers")
    for size in (200, 2000):
        pipelines = org(size)
        lineage = build(pipelines)
        depth = 1 + max(lineage.layers().values())
        html = to_html(lineage)
        timings = " | ".join(
            f"{label} {best_of(3, work, argument) * 1000:6.1f} ms"
            for label, work, argument in (
                ("build", build, pipelines),
                ("layout", layout, lineage),
                ("mermaid", to_mermaid, lineage),
                ("dot", to_dot, lineage),
                ("html", to_html, lineage),
            )
        )
        print(
            f"  {size:>5} pipelines | {timings} | {len(html.encode()) / 1024:5.0f} KiB"
            f" | {depth} layers"
        )


def bench_runs() -> None:
    import boto3
    from moto import mock_aws

    from dpc.lambdas.store_dynamodb import DynamoDbStore, RunRecord
    from dpc.lambdas.tables import RUN_LOG, create_tables
    from dpc.observe.runlog import RunFilter, list_runs
    from dpc.triggers.events import RunEvent

    for name, value in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        os.environ.setdefault(name, value)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        environment = create_tables(dynamodb)
        table = environment[RUN_LOG.env_var]
        store = DynamoDbStore(table, "unused", dynamodb)
        start = datetime(2026, 11, 18, tzinfo=UTC)
        pipelines = [ParentRef(f"p{i:02d}", ACCOUNTS[i % 5]) for i in range(40)]
        for n in range(2000):  # 200 runs a day over 10 days, 50 runs of each pipeline
            at = start + timedelta(minutes=7 * n + 3)
            ref = pipelines[n % len(pipelines)]
            run = RunEvent(at, ref, "SUCCEEDED", f"{ref.name}-{n}")
            store.accept(run, RunRecord(started_at=at - timedelta(minutes=5), stopped_at=at))
        now = start + timedelta(days=10)
        requests: list[int] = []
        dynamodb.meta.events.register("before-call.dynamodb.Query", lambda **_: requests.append(1))
        print("runs (moto): newest 50 of 2,000 runs over 10 days")
        for label, targets in (("one pipeline (LSI)", [pipelines[7]]), ("all (by-day GSI)", None)):
            run_filter = RunFilter(since=now - timedelta(days=10))
            times = []
            for _ in range(5):
                requests.clear()
                begin = time.perf_counter()
                found = list_runs(dynamodb, table, run_filter, now, 50, targets)
                times.append(time.perf_counter() - begin)
            print(
                f"  {label:<18} | {len(found)} runs | {len(requests)} Query requests"
                f" | median {statistics.median(times) * 1000:.0f} ms (moto, in-process)"
            )


if __name__ == "__main__":
    bench_graph()
    bench_runs()
