"""`dpc demo --json`: the case study's three days, told by the deployed system itself.

Day 1 both parents succeed; day 2 searches fails on late logs and is rerun; day 3 is an
ordinary day, then the searches team reruns day 1 with corrected logs and pipeline-x,
``correlate: period``, reruns for day 1 only.

The story is run once for the module (deploying four accounts takes a few seconds) and
every test reads its JSON lines, as a user piping the demo into jq would.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dpc.cli.app import app

pytestmark = pytest.mark.slow

A, B, C = "111111111111", "222222222222", "333333333333"
STATUS_KEYS = {"time", "account", "pipeline", "execution", "status"}


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo")


@pytest.fixture(scope="module")
def story(work: Path) -> list[dict[str, Any]]:
    result = CliRunner().invoke(app, ["demo", "--json", "--keep", str(work)])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def _runs(story: list[dict[str, Any]], pipeline: str) -> list[dict[str, Any]]:
    return [e for e in story if e.get("pipeline") == pipeline and "status" in e]


def _triggers(story: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in story if "trigger" in e]


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _position(story: list[dict[str, Any]], **match: str) -> int:
    return next(i for i, e in enumerate(story) if all(e.get(k) == v for k, v in match.items()))


def test_every_line_is_one_of_the_three_documented_shapes(story):
    for entry in story:
        if "trigger" in entry:
            assert set(entry) == {"time", "trigger"}
            assert set(entry["trigger"]) == {
                "pipeline",
                "account",
                "trigger_id",
                "causes",
                "period",
            }
        elif "alert" in entry:
            assert set(entry) == {"time", "alert"}
            assert set(entry["alert"]) == {"channel", "to", "text", "thread"}
        else:
            assert set(entry) == STATUS_KEYS
    times = [entry["time"] for entry in story]
    assert times == sorted(times)


def test_parents_run_on_their_schedules_each_day_and_searches_fails_once(story):
    listings = [(r["time"], r["status"]) for r in _runs(story, "listings")]
    assert listings == [
        ("2026-11-27T03:00:00Z", "RUNNING"),
        ("2026-11-27T03:11:00Z", "SUCCEEDED"),
        ("2026-11-28T03:00:00Z", "RUNNING"),
        ("2026-11-28T03:11:00Z", "SUCCEEDED"),
        ("2026-11-29T03:00:00Z", "RUNNING"),
        ("2026-11-29T03:11:00Z", "SUCCEEDED"),
    ]
    searches = [r["status"] for r in _runs(story, "searches")]
    # day 1; day 2 fails, its rerun succeeds; day 3; the rerun of day 1 on day 3
    assert searches == ["RUNNING", "SUCCEEDED", "RUNNING", "FAILED"] + ["RUNNING", "SUCCEEDED"] * 3
    assert {r["account"] for r in _runs(story, "searches")} == {B}


def test_pipeline_x_starts_once_a_day_only_after_both_parents_succeeded(story):
    runs = _runs(story, "pipeline-x")
    executions = list(dict.fromkeys(r["execution"] for r in runs))
    assert len(executions) == 4  # days 1, 2, 3, and day 1 again after its rerun
    assert [r["status"] for r in runs] == ["RUNNING", "SUCCEEDED"] * 4
    assert {r["account"] for r in runs} == {C}

    searches = _runs(story, "searches")
    day1_success, day2_failure, day2_rerun_success = searches[1], searches[3], searches[5]
    first_start = _position(story, pipeline="pipeline-x", status="RUNNING")
    assert first_start > story.index(day1_success)
    second_start = _position(story, execution=executions[1], status="RUNNING")
    # Day 2: nothing between the failure and the rerun's success starts pipeline-x ...
    assert second_start > story.index(day2_rerun_success) > story.index(day2_failure)
    # ... and no manual restart was needed: the rerun's success starts it at once.
    assert story[second_start]["time"] == day2_rerun_success["time"]


def test_the_rerun_of_day_one_rebuilds_day_one_only(story):
    # Then pipeline-x ran for each day once, and for day 1 a second time, last
    assert [t["trigger"]["period"] for t in _triggers(story)] == [
        "2026-11-27",
        "2026-11-28",
        "2026-11-29",
        "2026-11-27",
    ]
    # with day 1's listings and the rerun of day 1's searches, never with day 3's listings
    rebuilt = _triggers(story)[-1]["trigger"]
    listings_runs = list(dict.fromkeys(r["execution"] for r in _runs(story, "listings")))
    searches_runs = list(dict.fromkeys(r["execution"] for r in _runs(story, "searches")))
    assert {(c["pipeline"], c["execution"], c["period"]) for c in rebuilt["causes"]} == {
        ("listings", listings_runs[0], "2026-11-27"),
        ("searches", searches_runs[-1], "2026-11-27"),
    }
    assert searches_runs[-1].startswith("r-2026-11-27-")


def test_each_trigger_carries_the_two_successes_that_caused_it(story):
    triggers = _triggers(story)[:2]
    assert len(_triggers(story)) == 4
    assert len({t["trigger"]["trigger_id"] for t in triggers}) == 2
    successes = {
        (r["pipeline"], r["execution"])
        for r in story
        if r.get("status") == "SUCCEEDED" and r["pipeline"] in ("listings", "searches")
    }
    listings_runs = list(dict.fromkeys(r["execution"] for r in _runs(story, "listings")))
    searches_runs = list(dict.fromkeys(r["execution"] for r in _runs(story, "searches")))
    expected = [
        {("listings", listings_runs[0]), ("searches", searches_runs[0])},
        {("listings", listings_runs[1]), ("searches", searches_runs[2])},  # the rerun
    ]
    for trigger, wanted in zip(triggers, expected, strict=True):
        body = trigger["trigger"]
        assert (body["pipeline"], body["account"]) == ("pipeline-x", C)
        causes = {(c["pipeline"], c["execution"]) for c in body["causes"]}
        assert causes == wanted
        assert causes <= successes
        assert {c["status"] for c in body["causes"]} == {"SUCCEEDED"}
        assert {c["account"] for c in body["causes"]} == {A, B}
        assert _moment(trigger["time"]) == max(_moment(c["time"]) for c in body["causes"])


def test_the_failure_alert_of_searches_reaches_the_outbox(story):
    failed = next(r for r in _runs(story, "searches") if r["status"] == "FAILED")
    alerts = [
        e for e in story if "alert" in e and e["alert"]["text"].startswith("[dpc] searches: run")
    ]
    assert len(alerts) == 1
    (alert,) = alerts
    assert alert["alert"]["channel"] == "SLACK"
    assert alert["alert"]["to"] == "searches-alerts"
    assert "FAILED" in alert["alert"]["text"]
    assert failed["execution"] in alert["alert"]["text"]
    assert alert["alert"]["thread"]
    assert alert["time"] == failed["time"]


def _headed(story: list[dict[str, Any]], headline: str) -> list[dict[str, Any]]:
    return [e for e in story if "alert" in e and e["alert"]["text"].startswith(headline)]


def test_searches_late_at_its_deadline_is_told_to_its_team_and_to_pipeline_x_once(story):
    # searches' pipeline.yaml expects the day's data by 06:00; on day 2 its run failed at 05:11
    late = _headed(story, "[dpc] searches: LATE for 2026-11-28")
    assert {e["time"] for e in late} == {"2026-11-28T06:00:00Z"}
    # to searches' own channel, and to pipeline-x's owners (the child it blocks), once each
    recipients = sorted((e["alert"]["channel"], e["alert"]["to"]) for e in late)
    assert recipients == [
        ("EMAIL", "rent-journey@example.com"),
        ("SLACK", "data-pipeline-alerts"),
        ("SLACK", "searches-alerts"),
    ]
    text = late[0]["alert"]["text"]
    # why: the failed step and its error, as the run's status event reported them
    assert "due 2026-11-28 06:00: FAILED at 2026-11-28 05:11 in step aggregate" in text
    assert "the search logs of 2026-11-28 have not arrived" in text
    assert "Blocks:    pipeline-x@333333333333" in text
    # no other day was late, and no other pipeline but the child it blocks
    lates = [e["alert"]["text"].splitlines()[0] for e in story if ": LATE for " in _text(e)]
    assert sorted(set(lates)) == [
        "[dpc] pipeline-x: LATE for 2026-11-28",
        "[dpc] searches: LATE for 2026-11-28",
    ]


def _text(entry: dict[str, Any]) -> str:
    return str(entry["alert"]["text"]) if "alert" in entry else ""


def test_pipeline_x_without_a_deadline_is_late_at_its_inferred_one_then_recovers(story):
    # pipeline-x sets no expect: it is due at searches' 06:00 plus its typical run (day 1's)
    late = _headed(story, "[dpc] pipeline-x: LATE for 2026-11-28")
    searches_late = _headed(story, "[dpc] searches: LATE for 2026-11-28")
    assert len({e["time"] for e in late}) == 1
    assert late[0]["time"] > searches_late[0]["time"]
    # to pipeline-x's own owners only (it blocks no one), once each
    recipients = sorted((e["alert"]["channel"], e["alert"]["to"]) for e in late)
    assert recipients == [("EMAIL", "rent-journey@example.com"), ("SLACK", "data-pipeline-alerts")]
    text = late[0]["alert"]["text"]
    assert "(inferred): waiting on searches@222222222222 (failed)" in text
    assert "Blocks:" not in text
    # after searches' rerun, pipeline-x's own success recovers it in the same thread
    (ran,) = [
        r
        for r in _runs(story, "pipeline-x")
        if r["time"].startswith("2026-11-28") and r["status"] == "SUCCEEDED"
    ]
    recovered = _headed(story, "[dpc] pipeline-x: RECOVERED for 2026-11-28")
    assert len(recovered) == 2 and all(e["time"] >= ran["time"] for e in recovered)
    threads = {e["alert"]["to"]: e["alert"]["thread"] for e in late if e["alert"]["thread"]}
    assert (
        threads
        and {e["alert"]["to"]: e["alert"]["thread"] for e in recovered if e["alert"]["thread"]}
        == threads
    )


def test_the_rerun_success_is_told_as_recovered_in_the_late_alerts_threads(story):
    rerun = [r for r in _runs(story, "searches") if r["execution"].startswith("r-2026-11-28")][-1]
    assert rerun["status"] == "SUCCEEDED"
    recovered = _headed(story, "[dpc] searches: RECOVERED for 2026-11-28")
    late = _headed(story, "[dpc] searches: LATE for 2026-11-28")
    threads = {e["alert"]["to"]: e["alert"]["thread"] for e in late if e["alert"]["thread"]}
    assert {e["alert"]["to"]: e["alert"]["thread"] for e in recovered if e["alert"]["thread"]} == (
        threads
    )
    assert len(recovered) == 3
    assert all(e["time"] >= rerun["time"] for e in recovered)
    assert "Late by:   3h 11m 00s" in recovered[0]["alert"]["text"]


def test_day_two_failure_is_the_real_step_meeting_missing_search_logs(story, work):
    # Given the search logs of 2026-11-28 landed only at 09:00, after searches ran at 05:00
    failed = next(r for r in _runs(story, "searches") if r["status"] == "FAILED")
    (alert,) = [
        e
        for e in story
        if "alert" in e
        and failed["execution"] in e["alert"]["text"]
        and ": LATE for " not in e["alert"]["text"]
    ]
    missing = "the search logs of 2026-11-28 have not arrived (search-logs/2026-11-28.jsonl)"
    # Then the alert carries the step script's own exit code and stderr, not an injected fault
    assert (
        f"Error:     States.TaskFailed: exit code 1: searches: input missing: {missing}"
        in (alert["alert"]["text"])
    )
    assert "inject" not in alert["alert"]["text"]
    # ... because the script really ran and wrote that reason to its step log
    log = work / "runs" / B / "searches" / failed["execution"] / "aggregate.log"
    assert missing in log.read_text()
    # ... and the logs did land later: the rerun aggregated them
    assert (work / "landing" / "search-logs" / "2026-11-28.jsonl").stat().st_size > 0
    aggregate = json.loads(
        (work / "data" / "searches" / "2026-11-28" / "aggregate.json").read_text()
    )
    assert aggregate["day"] == "2026-11-28"


def test_the_steps_really_ran_and_pipeline_x_read_what_its_parents_wrote(story, work):
    # The shell steps ran as subprocesses: each run left its step log, and pipeline-x's
    # publish step wrote its report from the aggregates listings and searches left.
    succeeded = {
        (e["account"], e["pipeline"], e["execution"])
        for e in story
        if e.get("status") == "SUCCEEDED"
    }
    # listings x3, searches x4 (days 1 and 3, both reruns), pipeline-x x4
    assert len(succeeded) == 11
    for run in succeeded:
        assert list((work / "runs" / run[0] / run[1] / run[2]).glob("*.log")), run
    # each day's report from that day's aggregates (DPC_PERIOD picked the partition)
    for day in ("2026-11-27", "2026-11-28", "2026-11-29"):
        metric = json.loads((work / "data" / "pipeline-x" / day / "metric_x.json").read_text())
        assert metric["day"] == day
    report = (work / "data" / "pipeline-x" / "2026-11-27" / "report.csv").read_text().splitlines()
    assert report[0] == "day,city,searches_per_listing"
    assert {line.split(",")[1] for line in report[1:]} == {"berlin", "cologne", "hamburg", "munich"}


def test_human_timeline_names_accounts_and_days():
    result = CliRunner().invoke(app, ["demo", "--timings"])
    assert result.exit_code == 0, result.output
    assert "── 2026-11-27 ──" in result.stdout
    assert "── 2026-11-28 ──" in result.stdout
    assert "── 2026-11-29 ──" in result.stdout
    assert "pipeline-x will rebuild 2026-11-27 only" in result.stdout
    assert "trigger → pipeline-x for 2026-11-27" in result.stdout
    assert "pipeline-x (C 333333333333)" in result.stdout
    assert "the search logs of 2026-11-28 arrived" in result.stdout
    assert "fault injected" not in result.stdout
    assert "timings: synth" in result.stdout
    # the late alert and its recovery on day 2, and the closing `dpc status` of that day
    assert "[dpc] searches: LATE for 2026-11-28" in result.stdout
    assert "[dpc] searches: RECOVERED for 2026-11-28" in result.stdout
    closing = result.stdout.split("dpc status --period 2026-11-28 ──", 1)[1]
    for pipeline in ("listings", "searches", "pipeline-x"):
        assert f"\n{pipeline} " in closing
    assert "done" in closing and "late" not in closing


def test_a_step_processes_its_runs_period_not_the_day_it_runs_on(story, work):
    # Given the runs of day 3 (29 November) that rebuild day 1: the searches team's rerun
    # and the pipeline-x run it triggered
    day3 = [
        r for r in story if r.get("status") == "RUNNING" and r["time"] >= "2026-11-29T10:00:00Z"
    ]
    rerun = next(r for r in day3 if r["pipeline"] == "searches")
    rebuild = next(r for r in day3 if r["pipeline"] == "pipeline-x")
    # Then their steps, running on 29 November, processed 27 November: the period the
    # deployed state machine passed them as DPC_PERIOD (DPC_RUN_TIME says the 29th)
    searches_log = work / "runs" / B / "searches" / rerun["execution"] / "aggregate.log"
    assert " of 2026-11-27 " in searches_log.read_text()
    metric_log = work / "runs" / C / "pipeline-x" / rebuild["execution"] / "metric-x.log"
    assert "metric-x for 2026-11-27" in metric_log.read_text()
