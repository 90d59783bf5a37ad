"""Chaos runs (issue 11): under AWS's documented faults — dropped status events, duplicate
and late deliveries, failed Lambda invocations, failed PutEvents entries — with the status
sweeps running and an operator redriving what `dpc doctor` shows stuck, exactly the runs of
the clean run happen: the same (pipeline, period, status) executions, none lost, none doubled.

Each org's clean run is computed once per module; each seed is its own sandbox.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from chaos_org import write_org
from typer.testing import CliRunner

from dpc.cli.app import app
from dpc.sandbox.chaos import Chaos
from dpc.sandbox.observed import Executed
from dpc.sandbox.story import CASE_STUDY, run_days

pytestmark = pytest.mark.slow

SEEDS = range(1)
"""One seed per org in CI (each seed is a sandbox deploy and a virtual day, ~30-50 s, and
CI has two cores for everything); bench/chaos.py runs the twenty seeds of issue 11."""


@pytest.fixture(scope="module")
def ten_pipelines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_org(tmp_path_factory.mktemp("org10"))


@pytest.fixture(scope="module")
def clean_case_study() -> tuple[Executed, ...]:
    return run_days(CASE_STUDY, days=1).executed


@pytest.fixture(scope="module")
def clean_ten(ten_pipelines: Path) -> tuple[Executed, ...]:
    return run_days(ten_pipelines, days=1).executed


def _difference(clean: tuple[Executed, ...], chaotic: tuple[Executed, ...]) -> str:
    missing = Counter(clean) - Counter(chaotic)
    extra = Counter(chaotic) - Counter(clean)
    return f"missing {sorted(missing.elements())}, extra {sorted(extra.elements())}"


def test_the_clean_runs_are_what_the_orgs_promise(clean_case_study, clean_ten):
    # the baseline itself is right: every pipeline of each org ran once (c2 and c4, which
    # follow either of two parents by latest run, twice), all succeeded, for 27 Nov
    assert Counter(e.pipeline for e in clean_case_study) == {
        "listings": 1,
        "searches": 1,
        "pipeline-x": 1,
    }
    expected = {f"r{i}": 1 for i in (1, 2, 3)} | {f"c{i}": 1 for i in range(1, 8)}
    assert Counter(e.pipeline for e in clean_ten) == expected | {"c2": 2, "c4": 2}
    assert {(e.period, e.status) for e in clean_case_study + clean_ten} == {
        ("2026-11-27", "SUCCEEDED")
    }


@pytest.mark.parametrize("seed", SEEDS)
def test_the_case_study_under_chaos_runs_exactly_its_clean_runs(seed, clean_case_study):
    chaos = Chaos(seed)
    chaotic = run_days(CASE_STUDY, days=1, chaos=chaos).executed
    assert chaotic == clean_case_study, (
        f"{chaos.summary()}: {_difference(clean_case_study, chaotic)}"
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_ten_pipelines_under_chaos_run_exactly_their_clean_runs(seed, ten_pipelines):
    # through the command a user runs: a clean run, then the chaotic one, compared
    result = CliRunner().invoke(
        app, ["sandbox", "run", str(ten_pipelines), "--chaos", str(seed), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])["chaos"]
    assert summary["same_runs_as_clean"] is True, summary
    assert summary["executions"] == 12
    assert sum(summary["faults"].values()) > 0
