"""`dpc demo` ends as issue 7 asks: with `dpc runs` over both days and with `dpc why pipeline-x`
asked on day 2 before the rerun, which answers that searches FAILED.

Only the human output has this close: `--json` keeps its three line shapes (test_demo.py checks
every line of it).
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dpc.cli.app import app

pytestmark = pytest.mark.slow

A, B, C = "111111111111", "222222222222", "333333333333"
RUNS_HEADING = "── 2026-11-30 00:00:00: dpc runs --since 3d ──"
WHY_HEADING = "── 2026-11-28 09:00:00, before searches was rerun: dpc why pipeline-x --limit 3 ──"


@pytest.fixture(scope="module")
def lines() -> list[str]:
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def test_the_close_follows_the_timeline_of_the_three_days(lines: list[str]) -> None:
    assert lines.index(RUNS_HEADING) > lines.index("── 2026-11-28 ──")
    assert lines.index(WHY_HEADING) > lines.index(RUNS_HEADING)


def test_runs_lists_every_run_of_the_three_days_newest_first(lines: list[str]) -> None:
    # Given the table between the two headings (its first line names the columns)
    table = lines[lines.index(RUNS_HEADING) + 1 : lines.index(WHY_HEADING)]
    assert table[0].split()[:5] == ["PIPELINE", "ACCOUNT", "EXECUTION", "PERIOD", "STATUS"]
    rows = [line.split()[:5] for line in table[1:] if line.strip()]

    # Then every run is there once, newest first, with its account, period and final status
    assert [(name, account, period, status) for name, account, _, period, status in rows] == [
        ("pipeline-x", C, "2026-11-27", "SUCCEEDED"),
        ("searches", B, "2026-11-27", "SUCCEEDED"),
        ("pipeline-x", C, "2026-11-29", "SUCCEEDED"),
        ("searches", B, "2026-11-29", "SUCCEEDED"),
        ("listings", A, "2026-11-29", "SUCCEEDED"),
        ("pipeline-x", C, "2026-11-28", "SUCCEEDED"),
        ("searches", B, "2026-11-28", "SUCCEEDED"),
        ("searches", B, "2026-11-28", "FAILED"),
        ("listings", A, "2026-11-28", "SUCCEEDED"),
        ("pipeline-x", C, "2026-11-27", "SUCCEEDED"),
        ("searches", B, "2026-11-27", "SUCCEEDED"),
        ("listings", A, "2026-11-27", "SUCCEEDED"),
    ]
    executions = [execution for _, _, execution, _, _ in rows]
    assert executions[7] == "s-20261128T0500"
    assert executions[6].startswith("r-2026-11-28-")


def test_why_answers_that_pipeline_x_waits_for_searches_which_failed(lines: list[str]) -> None:
    headline = lines[lines.index(WHY_HEADING) + 1]

    assert headline.startswith(
        f"pipeline-x@{C} did not run after searches@{B} FAILED at 2026-11-28 05:"
    )
    assert f"waiting for searches@{B}: 2026-11-28 run FAILED at 2026-11-28 05:" in headline
    # The report lists the evaluations it read: the three newest, the failure first.
    report = lines[lines.index(WHY_HEADING) + 1 :]
    evaluations = [line for line in report if line.startswith("2026-11-")]
    assert len(evaluations) == 3
    assert f"event searches@{B} FAILED" in evaluations[0]
