"""The installed `dpc` command, run as a user runs it: a real process, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DPC = Path(sys.executable).parent / "dpc"
HEAVY = ("boto3", "botocore", "aws_cdk", "jsii", "moto")


def dpc(*arguments: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [str(DPC), *arguments], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )


def test_version() -> None:
    result = dpc("--version")
    assert (result.returncode, result.stdout.strip()) == (0, "dpc 0.1.0")


def test_validate_case_study() -> None:
    result = dpc("validate", "samples/case-study")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3
    assert "3 pipelines valid" in result.stderr


def test_validate_invalid_file_exit_1_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "pipeline.yaml").write_text("name: x\naccount: 1234\nsteps: []\n")
    result = dpc("validate", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        'pipeline.yaml:2:10: account: expected text, got the number 1234; put it in quotes: "1234"',
        "pipeline.yaml:3:1: steps: must not be empty",
    ]
    assert "Traceback" not in result.stderr


def test_unknown_option_is_usage_error() -> None:
    assert dpc("validate", "--nope").returncode == 2


def test_hostile_file_gets_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "pipeline.yaml").write_bytes(b"# " + b"x" * 10_000_000)
    result = dpc("validate", str(tmp_path))
    assert result.returncode == 1
    assert "pipeline.yaml may be at most 1,000,000" in result.stdout


def test_create_project_then_validate_it(tmp_path: Path) -> None:
    created = dpc("create-project", "-n", "orders", "--account", "123456789012", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "orders"
    validated = dpc("validate", "--json", "orders", cwd=tmp_path)
    assert validated.returncode == 0, validated.stdout
    assert json.loads(validated.stdout)["pipelines"][0]["account"] == "123456789012"
    again = dpc("create-project", "-n", "orders", cwd=tmp_path)
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_shell_steps_of_the_case_study_really_run(tmp_path: Path) -> None:
    # Given the upstream systems landed the day's input, as the sandbox has them do at midnight
    env = {
        **os.environ,
        "DPC_WORK_DIR": str(tmp_path / "data"),
        "DPC_LANDING_DIR": str(tmp_path / "landing"),
        "DPC_RUN_TIME": "2026-11-28T05:05:00Z",
    }
    case_study = ROOT / "samples" / "case-study"
    subprocess.run(["bash", str(case_study / "upstream" / "land.sh")], env=env, check=True)
    # When the three projects' shell steps run in dependency order with a shared work folder
    for script in (
        "listings/scripts/aggregate.sh",
        "searches/scripts/aggregate.sh",
        "pipeline-x/scripts/metric_x.sh",
        "pipeline-x/scripts/publish.sh",
    ):
        subprocess.run(["bash", str(case_study / script)], env=env, check=True)
    # Then pipeline-x's report has one row per city of the listings aggregate, for the run's day
    data = tmp_path / "data"
    report = (data / "pipeline-x" / "2026-11-28" / "report.csv").read_text().splitlines()
    cities = json.loads((data / "listings" / "2026-11-28" / "aggregate.json").read_text())["cities"]
    assert report[0] == "day,city,searches_per_listing"
    assert sorted(row.split(",")[1] for row in report[1:]) == sorted(cities)
    assert {row.split(",")[0] for row in report[1:]} == {"2026-11-28"}


def test_searches_fails_on_its_own_when_the_days_search_logs_have_not_landed(
    tmp_path: Path,
) -> None:
    # Given only the listings export of 2026-11-28 landed (and yesterday's search logs)
    env = {
        **os.environ,
        "DPC_WORK_DIR": str(tmp_path / "data"),
        "DPC_LANDING_DIR": str(tmp_path / "landing"),
    }
    case_study = ROOT / "samples" / "case-study"
    land = ["bash", str(case_study / "upstream" / "land.sh")]
    yesterday = {**env, "DPC_RUN_TIME": "2026-11-27T00:00:00Z"}
    subprocess.run([*land, "search-logs"], env=yesterday, check=True)
    today = {**env, "DPC_RUN_TIME": "2026-11-28T05:05:00Z"}
    subprocess.run([*land, "listings-export"], env=today, check=True)
    # When searches' step runs for 2026-11-28
    result = subprocess.run(
        ["bash", str(case_study / "searches" / "scripts" / "aggregate.sh")],
        env=today,
        capture_output=True,
        text=True,
        check=False,
    )
    # Then it fails, saying which input is missing, and writes no aggregate
    assert result.returncode == 1
    assert "the search logs of 2026-11-28 have not arrived" in result.stderr
    assert not (tmp_path / "data" / "searches" / "2026-11-28" / "aggregate.json").exists()


def test_the_steps_process_the_period_dpc_gives_them_not_the_day_they_run(tmp_path: Path) -> None:
    # Given the input of 27 November landed; the steps run on the 29th for DPC_PERIOD 27 Nov
    case_study = ROOT / "samples" / "case-study"
    env = {
        **os.environ,
        "DPC_WORK_DIR": str(tmp_path / "data"),
        "DPC_LANDING_DIR": str(tmp_path / "landing"),
        "DPC_RUN_TIME": "2026-11-27T00:00:00Z",
    }
    subprocess.run(["bash", str(case_study / "upstream" / "land.sh")], env=env, check=True)
    rerun = {**env, "DPC_RUN_TIME": "2026-11-29T10:00:00Z", "DPC_PERIOD": "2026-11-27"}
    for script in ("listings/scripts/aggregate.sh", "searches/scripts/aggregate.sh"):
        subprocess.run(["bash", str(case_study / script)], env=rerun, check=True)
    subprocess.run(
        ["bash", str(case_study / "pipeline-x/scripts/metric_x.sh")], env=rerun, check=True
    )
    # Then metric X of the 27th is built from the 27th's aggregates
    metric = json.loads(
        (tmp_path / "data" / "pipeline-x" / "2026-11-27" / "metric_x.json").read_text()
    )
    assert metric["day"] == "2026-11-27"


def test_metric_x_fails_loudly_without_its_inputs(tmp_path: Path) -> None:
    script = ROOT / "samples" / "case-study" / "pipeline-x" / "scripts" / "metric_x.sh"
    result = subprocess.run(
        ["bash", str(script)],
        env={**os.environ, "DPC_WORK_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "input missing" in result.stderr


def imported_modules(*arguments: str) -> set[str]:
    """Top-level modules a `dpc` run imports, from Python's own import log."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", str(DPC), *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return {
        line.split("|")[-1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_help_and_validate_import_no_aws_or_cdk() -> None:
    for arguments in (("--help",), ("validate", "samples/case-study")):
        modules = imported_modules(*arguments)
        assert "dpc" in modules  # the log is real
        assert not modules & set(HEAVY), (arguments, modules & set(HEAVY))
