"""samples/fallback on the embedded AWS: the recovery pipeline runs when its parent fails,
and only then. `dpc sandbox run` drives two days; on day 1 the nightly load's step fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dpc.cli.app import app

pytestmark = pytest.mark.slow

FALLBACK = Path(__file__).resolve().parents[2] / "samples" / "fallback"
LOADS = "444444444444"


@pytest.fixture(scope="module")
def story() -> list[dict[str, Any]]:
    args = ["sandbox", "run", str(FALLBACK), "--days", "2", "--fail", "nightly-load:1", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def _final(story: list[dict[str, Any]], pipeline: str) -> list[tuple[str, str]]:
    """(day, terminal status) of each run of ``pipeline``."""
    return [
        (e["time"][:10], e["status"])
        for e in story
        if e.get("pipeline") == pipeline and e.get("status") not in (None, "RUNNING")
    ]


def test_the_parent_fails_on_day_1_and_succeeds_on_day_2(story):
    assert _final(story, "nightly-load") == [("2026-11-27", "FAILED"), ("2026-11-28", "SUCCEEDED")]


def test_the_recovery_runs_once_after_the_failure_and_not_after_the_success(story):
    assert _final(story, "load-recovery") == [("2026-11-27", "SUCCEEDED")]
    (trigger,) = [
        e["trigger"] for e in story if e.get("trigger", {}).get("pipeline") == "load-recovery"
    ]
    assert trigger["account"] == LOADS
    (cause,) = trigger["causes"]
    assert (cause["pipeline"], cause["status"]) == ("nightly-load", "FAILED")
    failed_run = next(
        e["execution"]
        for e in story
        if e.get("pipeline") == "nightly-load" and e.get("status") == "FAILED"
    )
    assert cause["execution"] == failed_run


def test_the_report_runs_each_day_from_whichever_load_worked(story):
    assert _final(story, "daily-report") == [
        ("2026-11-27", "SUCCEEDED"),
        ("2026-11-28", "SUCCEEDED"),
    ]
    causes = [
        [c["pipeline"] for c in e["trigger"]["causes"]]
        for e in story
        if e.get("trigger", {}).get("pipeline") == "daily-report"
    ]
    assert causes == [["load-recovery"], ["nightly-load"]]


def test_an_unknown_pipeline_to_fail_is_a_usage_error():
    result = CliRunner().invoke(
        app, ["sandbox", "run", str(FALLBACK), "--fail", "no-such-pipeline", "--json"]
    )
    assert result.exit_code == 2
    assert "no-such-pipeline" in result.output
