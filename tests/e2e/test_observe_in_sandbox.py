"""Issue 7's "done when", on the embedded AWS: the case study is deployed, day 1 runs, day 2's
searches fails — then a user, with the central account's credentials and the sandbox
endpoint, lists the runs, asks why pipeline-x did not run, and draws the deployed registry.

The CLI finds the central tables exactly as on AWS: through the deployed `dpc-central` stack.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dpc.cli.app import app
from dpc.constants import ENV_DEPENDENCIES_TABLE, ENV_RUN_LOG_TABLE, ENV_TRIGGER_STATE_TABLE
from dpc.sandbox.org import Timings, deploy_org, load_projects
from dpc.sandbox.sandbox import DEFAULT_START, Sandbox
from dpc.sandbox.server import CASE_STUDY_ACCOUNTS, CENTRAL_ACCOUNT
from dpc.sandbox.story import CASE_STUDY, ON_TIME_INPUT, UPSTREAM

pytestmark = pytest.mark.slow

A, B, C = "111111111111", "222222222222", "333333333333"
DAY_TWO_MORNING = DEFAULT_START + timedelta(days=1, hours=8)
UNTIL = ["--until", DAY_TWO_MORNING.strftime("%Y-%m-%dT%H:%M:%SZ")]


@pytest.fixture(scope="module")
def day_two_morning() -> Iterator[Sandbox]:
    with Sandbox(accounts=CASE_STUDY_ACCOUNTS, start=DEFAULT_START) as sandbox:
        deploy_org(sandbox, load_projects(CASE_STUDY), timings=Timings())
        sandbox.land(CASE_STUDY / UPSTREAM)
        sandbox.run_until(DEFAULT_START + timedelta(days=1))
        # Day 2's search logs never land: searches' step fails on its own at 05:00.
        sandbox.land(CASE_STUDY / UPSTREAM, ON_TIME_INPUT)
        sandbox.run_until(DAY_TWO_MORNING)
        yield sandbox


def as_central(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    for name in (ENV_RUN_LOG_TABLE, ENV_DEPENDENCIES_TABLE, ENV_TRIGGER_STATE_TABLE):
        monkeypatch.delenv(name, raising=False)
    with sandbox.server.acting_as(CENTRAL_ACCOUNT):
        return CliRunner().invoke(app, list(args))


def test_why_pipeline_x_did_not_run_on_day_two(
    day_two_morning: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = as_central(day_two_morning, monkeypatch, "why", "pipeline-x")

    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"pipeline-x@{C} did not run after searches@{B} FAILED at 2026-11-28")
    assert f"waiting for searches@{B}: 2026-11-28 run FAILED at 2026-11-28 05:" in first


def test_runs_lists_both_days_newest_first(
    day_two_morning: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = as_central(day_two_morning, monkeypatch, "runs", "--json", "--since", "2d", *UNTIL)

    assert result.exit_code == 0, result.output
    runs = [(r["pipeline"], r["status"], r["triggered_by"]) for r in json.loads(result.stdout)]
    assert runs == [
        ("searches", "FAILED", "schedule"),
        ("listings", "SUCCEEDED", "schedule"),
        ("pipeline-x", "SUCCEEDED", f"listings@{A} SUCCEEDED, searches@{B} SUCCEEDED"),
        ("searches", "SUCCEEDED", "schedule"),
        ("listings", "SUCCEEDED", "schedule"),
    ]


def test_graph_of_the_deployed_registry_shows_searches_failed(
    day_two_morning: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = as_central(day_two_morning, monkeypatch, "graph", "--central", "--json")

    assert result.exit_code == 0, result.output
    nodes = {n["pipeline"]: (n["account"], n["status"]) for n in json.loads(result.stdout)["nodes"]}
    assert nodes == {
        "listings": (A, "SUCCEEDED"),
        "searches": (B, "FAILED"),
        "pipeline-x": (C, "SUCCEEDED"),
    }


def test_status_of_day_two_names_the_failure_and_whom_it_blocks(
    day_two_morning: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = as_central(
        day_two_morning, monkeypatch, "status", "--period", "2026-11-28", "--json", *UNTIL
    )

    # a monitoring job sees it in the exit code, a person in the states
    assert result.exit_code == 1, result.output
    found = json.loads(result.stdout)
    assert found["period"] == "2026-11-28"
    states = [(p["pipeline"], p["state"], p["detail"]) for p in found["pipelines"]]
    assert states[0][:2] == ("searches", "failed")
    assert states[0][2].startswith("FAILED at 2026-11-28 05:")
    # pipeline-x sets no deadline: it is due when searches is (06:00, its expect.by) plus
    # its own typical run time, so at 09:00 it is late, blocked by the failure
    assert states[1][:2] == ("pipeline-x", "late")
    assert states[1][2].startswith("due 2026-11-28 06:")
    assert states[1][2].endswith(f"(inferred): waiting on searches@{B} (failed)")
    assert states[2] == ("listings", "done", states[2][2])
    # and day 1 is all done
    result = as_central(day_two_morning, monkeypatch, "status", "--period", "2026-11-27")
    assert result.exit_code == 0, result.output
    assert "pipeline-x" in result.stdout and "failed" not in result.stdout


def test_the_graph_of_day_two_colours_each_pipeline_by_its_state(
    day_two_morning: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    period = ("--period", "2026-11-28", *UNTIL)
    result = as_central(day_two_morning, monkeypatch, "graph", "--central", *period, "--json")

    assert result.exit_code == 0, result.output
    nodes = {n["pipeline"]: n["status"] for n in json.loads(result.stdout)["nodes"]}
    # pipeline-x is past its inferred deadline (searches' 06:00 plus its typical run time)
    assert nodes == {"listings": "done", "searches": "failed", "pipeline-x": "late"}


def test_history_replay_shows_what_a_changed_trigger_would_have_started(
    day_two_morning: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given the org folder as it is: the recorded runs are exactly what its rules start
    org = tmp_path / "org"
    shutil.copytree(CASE_STUDY, org)
    history = ("simulate", str(org), "--history", "2d", *UNTIL)
    result = as_central(day_two_morning, monkeypatch, *history, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []

    # When a pull request makes pipeline-x wait for listings only
    yaml_file = org / "pipeline-x" / "pipeline.yaml"
    text = yaml_file.read_text()
    searches = text.index("      - name: searches")
    yaml_file.write_text(text[:searches] + text[text.index("    # Metric X") :])
    result = as_central(day_two_morning, monkeypatch, *history, "--json")

    # Then the replay names the one run it would have added: day 2's, after listings
    assert result.exit_code == 0, result.output
    (difference,) = json.loads(result.stdout)
    assert difference["kind"] == "would start"
    assert (difference["pipeline"], difference["period"]) == ("pipeline-x", "2026-11-28")
    assert [c.split()[0] for c in difference["causes"]] == [f"listings@{A}"]
