"""§5b end to end on the embedded AWS: a backfill propagates one child run per period.

Three deployed pipelines in three accounts: listings and searches (no schedule that fires
here) and pipeline-x, which waits for both with ``correlate: period``. The searches team
backfills three days, the listings team five days with ``--parallel 2``: pipeline-x runs
once for each of the three days whose searches also succeeded, in period order; the same
backfill again starts nothing; a ``--no-downstream`` backfill (of either parent) starts no
child.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from dpc.operate.starts import Backfill, Target
from dpc.sandbox.org import Timings, deploy_org, load_projects
from dpc.sandbox.sandbox import DEFAULT_START, Sandbox
from dpc.sandbox.server import CASE_STUDY_ACCOUNTS
from dpc.triggers.periods import PeriodSpec, parse_period

pytestmark = pytest.mark.slow

A, B, C = "111111111111", "222222222222", "333333333333"
NEVER = 'schedule:\n    cron: "0 3 1 1 ? 2030"'
PIPELINES = {
    "listings": (A, NEVER),
    "searches": (B, NEVER),
    "pipeline-x": (
        C,
        "executions:\n"
        "    allOf:\n"
        f'      - {{name: listings, account: "{A}"}}\n'
        f'      - {{name: searches, account: "{B}"}}\n'
        "    correlate: period",
    ),
}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    org = tmp_path_factory.mktemp("org")
    for name, (account, trigger) in PIPELINES.items():
        project = org / name
        (project / "scripts").mkdir(parents=True)
        (project / "scripts" / "run.sh").write_text(
            f'#!/usr/bin/env bash\necho "{name} processes $DPC_PERIOD"\n'
        )
        (project / "pipeline.yaml").write_text(
            f'name: {name}\naccount: "{account}"\ntrigger:\n  {trigger}\n'
            "steps:\n  - {name: run, type: shell, script: scripts/run.sh}\n"
        )
    with Sandbox(accounts=CASE_STUDY_ACCOUNTS, start=DEFAULT_START) as box:
        deploy_org(box, load_projects(Path(org)), timings=Timings())
        yield box


def backfill(
    box: Sandbox, name: str, first: str, last: str, *, parallel: int = 1, propagate: bool = True
) -> Backfill:
    account = PIPELINES[name][0]
    job = Backfill(
        box.client(account, "stepfunctions"),
        Target(name, account, "eu-west-1", PeriodSpec()),
        parse_period(first),
        parse_period(last),
        parallel=parallel,
        propagate=propagate,
        sleep=lambda _: box.advance(timedelta(minutes=5)),
    )
    job.run()
    box.advance(timedelta(minutes=30))  # let triggered children start and finish
    return job


def child_periods(box: Sandbox) -> list[str]:
    """The periods of pipeline-x's runs, oldest start first, read from their inputs."""
    states = box.client(C, "stepfunctions")
    machine = f"arn:aws:states:eu-west-1:{C}:stateMachine:dpc-pipeline-x"
    executions = states.list_executions(stateMachineArn=machine)["executions"]
    found = []
    # ListExecutions answers newest first, as on AWS: reversed, runs started at the same
    # virtual moment keep the order they were started in.
    for execution in sorted(reversed(executions), key=lambda e: e["startDate"]):
        described = states.describe_execution(executionArn=execution["executionArn"])
        found.append(json.loads(described["input"])["dpc"]["period"])
    return found


def test_a_backfill_propagates_one_child_run_per_period_in_period_order(sandbox: Sandbox) -> None:
    # Given searches backfilled for 20-22 November (nothing to pair with yet)
    backfill(sandbox, "searches", "2026-11-20", "2026-11-22")
    assert child_periods(sandbox) == []
    # When listings is backfilled for 20-24 November, two at a time
    job = backfill(sandbox, "listings", "2026-11-20", "2026-11-24", parallel=2)
    # Then every listings period ran once, and pipeline-x ran once per day that has both
    assert [str(s.period) for s in job.started] == [f"2026-11-2{d}" for d in range(5)]
    assert set(job.statuses.values()) == {"SUCCEEDED"}
    assert child_periods(sandbox) == ["2026-11-20", "2026-11-21", "2026-11-22"]

    # And running the same backfill again starts nothing
    again = backfill(sandbox, "listings", "2026-11-20", "2026-11-24", parallel=2)
    assert [s.new for s in again.started] == [False] * 5
    assert child_periods(sandbox) == ["2026-11-20", "2026-11-21", "2026-11-22"]

    # And searches' days 23-24 backfilled with --no-downstream start no pipeline-x run
    quiet = backfill(sandbox, "searches", "2026-11-23", "2026-11-24", propagate=False)
    assert [s.new for s in quiet.started] == [True, True]
    assert child_periods(sandbox) == ["2026-11-20", "2026-11-21", "2026-11-22"]

    # And a listings backfill with --no-downstream, of days whose searches succeeded, neither
    backfill(sandbox, "searches", "2026-11-25", "2026-11-26")
    backfill(sandbox, "listings", "2026-11-25", "2026-11-26", parallel=2, propagate=False)
    assert child_periods(sandbox) == ["2026-11-20", "2026-11-21", "2026-11-22"]
