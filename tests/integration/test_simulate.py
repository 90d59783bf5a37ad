"""`dpc simulate`: DESIGN §5's input and output, identical on both backends."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dpc.cli.app import app

ROOT = Path(__file__).parents[2]
CASE_STUDY = ROOT / "samples" / "case-study"
EVENTS = Path(__file__).parent / "events"
BACKENDS = ["memory", "dynamodb"]


def simulate(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["simulate", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("backend", BACKENDS)
def test_case_study_two_days_prints_exactly_the_two_triggers(backend: str) -> None:
    code, stdout, _ = simulate(
        str(CASE_STUDY), "--events", str(EVENTS / "case_study_two_days.jsonl"), "--backend", backend
    )
    assert code == 0
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [(t["event"], t["pipeline"], t["account"]) for t in lines] == [
        (3, "pipeline-x", "333333333333"),
        (7, "pipeline-x", "333333333333"),
    ]
    assert list(lines[0]) == ["event", "pipeline", "account", "trigger_id", "causes", "period"]
    assert [t["period"] for t in lines] == ["2026-11-27", "2026-11-28"]
    assert lines[1]["causes"] == [
        {
            "pipeline": "listings",
            "account": "111111111111",
            "status": "SUCCEEDED",
            "execution": "listings-2026-11-28",
            "time": "2026-11-28T03:10:00Z",
            "period": "2026-11-28",
        },
        {
            "pipeline": "searches",
            "account": "222222222222",
            "status": "SUCCEEDED",
            "execution": "searches-2026-11-28-rerun",
            "time": "2026-11-28T07:00:00Z",
            "period": "2026-11-28",
        },
    ]


def test_both_backends_give_the_same_trigger_ids() -> None:
    args = [str(CASE_STUDY), "--events", str(EVENTS / "case_study_two_days.jsonl")]
    memory, dynamodb = simulate(*args), simulate(*args, "--backend", "dynamodb")
    assert memory[1] == dynamodb[1] != ""


def test_explain_goes_to_stderr_and_leaves_stdout_unchanged() -> None:
    args = [str(CASE_STUDY), "--events", str(EVENTS / "case_study_two_days.jsonl")]
    plain, explained = simulate(*args), simulate(*args, "--explain")
    assert explained[1] == plain[1]
    assert (
        "waiting for searches@222222222222: 2026-11-28 run FAILED at 2026-11-28 05:12 UTC"
        in (explained[2])
    )
    assert "not a pipeline of this org" in explained[2]


def latest_case_study(tmp_path: Path) -> Path:
    """The case study with pipeline-x on §5's correlate: latest and a midnight reset."""
    org = tmp_path / "org"
    shutil.copytree(CASE_STUDY, org)
    spec = org / "pipeline-x" / "pipeline.yaml"
    text = spec.read_text()
    text = re.sub(r"    correlate: period\n    rerun: retrigger\n    keep: 35d\n", "", text)
    spec.write_text(text.replace("    allOf:", '    reset: {cron: "0 0 * * ? *"}\n    allOf:'))
    return org


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_rerun_of_yesterday_rebuilds_yesterday_and_never_pairs_with_today(
    backend: str, tmp_path: Path
) -> None:
    # Given (the case) the 28th: listings succeeds, searches fails; then the searches
    # team reruns the 27th, which succeeds at 08:11; then a --no-downstream backfill of the 26th
    events = str(EVENTS / "case_study_rerun_of_yesterday.jsonl")
    # When it is replayed with pipeline-x on correlate: period
    code, stdout, stderr = simulate(str(CASE_STUDY), "--events", events, "--backend", backend)
    assert code == 0, stderr
    lines = [json.loads(line) for line in stdout.splitlines()]
    # Then pipeline-x ran for the 27th, and again for the 27th only after the rerun
    assert [(t["event"], t["period"]) for t in lines] == [(2, "2026-11-27"), (6, "2026-11-27")]
    assert [c["execution"] for c in lines[1]["causes"]] == [
        "listings-20261127",
        "searches-rerun-of-20261127",
    ]
    # Under §5 (latest + reset) the same stream pairs the rerun with the 28th's listings:
    # metric-x of the 28th from two different days, the case periods exist for.
    latest = simulate(str(latest_case_study(tmp_path)), "--events", events, "--backend", backend)[1]
    second = json.loads(latest.splitlines()[1])
    assert "period" not in second
    assert [c["execution"] for c in second["causes"]] == [
        "listings-20261128",
        "searches-rerun-of-20261127",
    ]


def test_an_event_period_must_be_of_the_parents_unit(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"time": "2026-11-27T05:10:00Z", "pipeline": "searches", "account": "222222222222",'
        ' "status": "SUCCEEDED", "execution": "s", "period": "2026-11-27T05"}\n'
    )
    code, stdout, stderr = simulate(str(CASE_STUDY), "--events", str(events))
    assert (code, stdout) == (1, "")
    assert f"{events}:1: period: '2026-11-27T05' is an hour, expected a day period" in stderr


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_stale_success_from_yesterday_never_completes_todays_pair(
    backend: str, tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(
        "\n".join(
            json.dumps(
                {"time": t, "pipeline": p, "account": a, "status": s, "execution": f"{p}-{t[:10]}"}
            )
            for t, p, a, s in [
                ("2026-11-27T03:10:00Z", "listings", "111111111111", "SUCCEEDED"),
                ("2026-11-27T05:10:00Z", "searches", "222222222222", "FAILED"),
                ("2026-11-28T05:10:00Z", "searches", "222222222222", "SUCCEEDED"),
            ]
        )
        + "\n"
    )
    code, stdout, _ = simulate(str(CASE_STUDY), "--events", str(events), "--backend", backend)
    assert (code, stdout) == (0, "")


def test_a_malformed_event_line_is_an_error_naming_the_line(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    good = (EVENTS / "case_study_two_days.jsonl").read_text().splitlines()[0]
    events.write_text(good + "\n" + '{"time": "2026-11-27T05:10:00Z", "pipeline": "searches"\n')
    code, stdout, stderr = simulate(str(CASE_STUDY), "--events", str(events))
    assert code == 1
    assert stdout == ""
    assert f"{events}:2:" in stderr and "not valid JSON" in stderr
    assert "Traceback" not in stderr


def test_a_binary_events_file_is_an_error_naming_the_file_and_place(tmp_path: Path) -> None:
    # Given an events file that is not text (a gzip of the day, say)
    events = tmp_path / "day.jsonl.gz"
    events.write_bytes(b'{"time": "2026-11-27"}\n\x1f\x8b\x08\x00\xff\xfe')
    # When it is replayed
    code, stdout, stderr = simulate(str(CASE_STUDY), "--events", str(events))
    # Then the user is told which file, where, and what it should be
    assert (code, stdout) == (1, "")
    assert f"{events}:2:2: not UTF-8 text; events are JSON Lines" in stderr
    assert "Traceback" not in stderr


def test_a_line_separator_inside_a_json_string_does_not_split_the_event(tmp_path: Path) -> None:
    # Given the case study's first day, with U+2028 and U+0085 inside an execution name
    lines = (EVENTS / "case_study_two_days.jsonl").read_text().split("\n")[:4]
    lines[:2] = [
        line.replace('"listings-2026-11-27"', '"listings\u2028run\u0085one"') for line in lines[:2]
    ]
    assert "\u2028" in lines[1]
    events = tmp_path / "events.jsonl"
    events.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    # When it is replayed
    code, stdout, stderr = simulate(str(CASE_STUDY), "--events", str(events))
    # Then the line is one event and its execution name arrives intact
    assert code == 0, stderr
    (trigger,) = [json.loads(line) for line in stdout.splitlines()]
    assert trigger["event"] == 3
    assert trigger["causes"][0]["execution"] == "listings\u2028run\u0085one"


def test_an_event_with_an_unknown_status_names_the_line(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"time": "2026-11-27T05:10:00Z", "pipeline": "searches", "account": "222222222222",'
        ' "status": "DONE", "execution": "s"}\n'
    )
    code, _, stderr = simulate(str(CASE_STUDY), "--events", str(events))
    assert code == 1
    assert f"{events}:1: status 'DONE'" in stderr


def test_an_invalid_org_is_an_error(tmp_path: Path) -> None:
    project = tmp_path / "broken"
    project.mkdir()
    (project / "pipeline.yaml").write_text("name: Not A Name\nsteps: []\n")
    code, stdout, stderr = simulate(
        str(tmp_path), "--events", str(EVENTS / "case_study_two_days.jsonl")
    )
    assert code == 1
    assert stdout == ""
    assert "pipeline.yaml:1:" in stderr


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_hourly_parent_starts_its_daily_child_once_all_24_hours_succeeded(backend: str) -> None:
    # Given the hourly → daily sample's day, whose 13:00 hour failed and was rerun next day
    sample = CASE_STUDY.parent / "hourly-daily"
    events = str(sample / "one-day.jsonl")
    # When it is replayed
    code, stdout, stderr = simulate(str(sample), "--events", events, "--backend", backend)
    # Then the daily report runs once, for the 27th, on the rerun hour, with all 24 causes
    assert code == 0, stderr
    [line] = [json.loads(text) for text in stdout.splitlines()]
    assert (line["event"], line["pipeline"], line["period"]) == (48, "clicks-daily", "2026-11-27")
    assert sorted(c["period"] for c in line["causes"]) == [f"2026-11-27T{h:02d}" for h in range(24)]
