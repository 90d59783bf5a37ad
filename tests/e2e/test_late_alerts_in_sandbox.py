"""Late alerts (issue 14) in `dpc sandbox up`, as a user meets them: the sandbox is up in one
shell, its clock moved by hand; searches (``expect: {by: "06:00"}``) has not succeeded by
06:00 on day 2, so the late-alert sweep tells its Slack channel, and the owners of
pipeline-x (the child it blocks) on Slack and by e-mail, once; another shell's `dpc status`
sees searches failed; after the rerun, RECOVERED arrives in the LATE alert's Slack thread.

`dpc sandbox up` lands every day's input at midnight (``upstream/land.sh``, both sources):
unlike `dpc demo`, it does not hold back day 2's search logs. So the user plays the late
delivery: with the work folder kept (``--keep``), they take day 2's search logs out of the
landing area after midnight, and land them (the upstream script) at 09:00 before rerunning.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sandbox_up_process import B, C, as_user, sandbox_up_process, shell, with_keys_of

from dpc.sandbox.story import CASE_STUDY, UPSTREAM

pytestmark = pytest.mark.slow

DAY_TWO = "2026-11-28"
LATE = f"[dpc] searches: LATE for {DAY_TWO}"
RECOVERED = f"[dpc] searches: RECOVERED for {DAY_TWO}"
FAILED_RUN = "s-20261128T0500"
MISSING = f"the search logs of {DAY_TWO} have not arrived (search-logs/{DAY_TWO}.jsonl)"
RECIPIENTS = [
    ("EMAIL", "rent-journey@example.com"),  # pipeline-x's owners: searches blocks pipeline-x
    ("SLACK", "data-pipeline-alerts"),  # pipeline-x's channel
    ("SLACK", "searches-alerts"),  # searches' own channel
]


@dataclass
class Session:
    """What the user saw: the sandbox's answers before and after the rerun, and the other
    shell's `dpc status` at the first answer's virtual time."""

    hello: dict[str, Any]
    by_morning: list[dict[str, Any]]
    morning: str
    status: subprocess.CompletedProcess[str]
    rerun: list[dict[str, Any]]
    after_rerun: list[dict[str, Any]]

    @property
    def everything(self) -> list[dict[str, Any]]:
        return self.by_morning + self.after_rerun


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    tmp = tmp_path_factory.mktemp("late")
    work = tmp / "work"
    with sandbox_up_process(tmp, "--keep", str(work)) as sandbox:
        hello = sandbox.next_json()
        environment = hello["environment"]

        # Given day 1 ran, and day 2's input landed at midnight...
        before, _ = sandbox.command(f"until {DAY_TWO}T00:00")
        search_logs = work / "landing" / "search-logs" / f"{DAY_TWO}.jsonl"
        assert search_logs.is_file(), "sandbox up landed no search logs at day 2's midnight"
        # ... but the search logs are late: the user takes them out of the landing area
        search_logs.unlink()

        # When the clock moves past searches' 06:00 deadline
        by_morning, morning = sandbox.command(f"until {DAY_TWO}T06:30")
        # ... and someone in another shell asks for day 2's status at that virtual time
        status = shell(
            environment,
            "status",
            "--period",
            DAY_TWO,
            "--until",
            morning,
            "--endpoint-url",
            environment["AWS_ENDPOINT_URL"],
            "--json",
        )

        # When the search logs arrive at 09:00 and team B reruns the failed run
        meanwhile, nine = sandbox.command(f"until {DAY_TWO}T09:00")
        assert nine == f"{DAY_TWO}T09:00:00Z"
        _land_search_logs(work, nine)
        rerun = as_user(with_keys_of(hello, "B"), "rerun", FAILED_RUN, "--json")
        # ... and the clock moves past the rerun and the next sweep
        after_rerun, _ = sandbox.command(f"until {DAY_TWO}T10:00")

        sandbox.quit()
        yield Session(
            hello,
            before + by_morning,
            morning,
            status,
            rerun,
            meanwhile + after_rerun,
        )


def _land_search_logs(work: Path, now: str) -> None:
    """The org's upstream system delivers the day's search logs (as at each midnight)."""
    landed = subprocess.run(
        ["bash", str(CASE_STUDY / UPSTREAM), "search-logs"],
        env={**os.environ, "DPC_LANDING_DIR": str(work / "landing"), "DPC_RUN_TIME": now},
        capture_output=True,
        text=True,
        check=False,
    )
    assert landed.returncode == 0, landed.stderr


def _headed(entries: list[dict[str, Any]], headline: str) -> list[dict[str, Any]]:
    """The alerts whose first line is ``headline``."""
    return [
        e["alert"] | {"time": e["time"]}
        for e in entries
        if "alert" in e and e["alert"]["text"].splitlines()[0] == headline
    ]


def test_searches_failed_on_its_own_before_its_deadline(session: Session) -> None:
    runs = [
        (e["time"], e["status"])
        for e in session.by_morning
        if e.get("execution") == FAILED_RUN and e.get("pipeline") == "searches"
    ]
    assert runs == [(f"{DAY_TWO}T05:00:00Z", "RUNNING"), (f"{DAY_TWO}T05:11:00Z", "FAILED")]


def test_the_late_alert_reaches_searches_channel_pipeline_x_channel_and_email_once_each(
    session: Session,
) -> None:
    late = _headed(session.everything, LATE)
    assert sorted((a["channel"], a["to"]) for a in late) == RECIPIENTS
    # raised by the sweep at the deadline, already in the answer to the move past 06:00
    assert {a["time"] for a in late} == {f"{DAY_TWO}T06:00:00Z"}
    assert _headed(session.by_morning, LATE) == late
    # searches was late on day 2 only
    searches_late = [
        e
        for e in session.everything
        if "alert" in e and e["alert"]["text"].startswith("[dpc] searches: LATE for ")
    ]
    assert len(searches_late) == len(RECIPIENTS)


def test_the_late_alert_names_the_failed_step_its_error_and_whom_it_blocks(
    session: Session,
) -> None:
    texts = {a["text"] for a in _headed(session.everything, LATE)}
    assert len(texts) == 1, "Slack and e-mail got different texts"
    lines = texts.pop().splitlines()
    assert f"Account:   {B}" in lines
    assert f"Period:    {DAY_TWO}" in lines
    (status,) = [line for line in lines if line.startswith("Status:    ")]
    assert status.startswith(
        f"Status:    due {DAY_TWO} 06:00: FAILED at {DAY_TWO} 05:11 in step aggregate"
    )
    assert f"searches: input missing: {MISSING}" in status  # the step's own error
    assert f"Execution: {FAILED_RUN}" in lines
    assert f"Blocks:    pipeline-x@{C}" in lines


def test_another_shell_sees_searches_failed_past_its_deadline(session: Session) -> None:
    assert session.morning == f"{DAY_TWO}T06:30:00Z"
    # a monitoring job sees it in the exit code, a person in the states
    assert session.status.returncode == 1, session.status.stderr
    found = json.loads(session.status.stdout)
    assert found["period"] == DAY_TWO
    searches = next(p for p in found["pipelines"] if p["pipeline"] == "searches")
    assert (searches["account"], searches["state"]) == (B, "failed")
    assert searches["detail"].startswith(f"FAILED at {DAY_TWO} 05:11 in step aggregate")
    assert MISSING in searches["detail"]
    assert (searches["execution"], searches["due"]) == (FAILED_RUN, f"{DAY_TWO}T06:00:00.000Z")
    # and what it holds up: pipeline-x, waiting on the failed searches
    pipeline_x = next(p for p in found["pipelines"] if p["pipeline"] == "pipeline-x")
    assert pipeline_x["waiting_on"] == [{"pipeline": "searches", "account": B, "state": "failed"}]


def test_after_the_rerun_recovered_arrives_in_the_late_alerts_slack_threads_once(
    session: Session,
) -> None:
    # the rerun, started from team B's shell, succeeded for day 2
    ((rerun_execution, period),) = [(r["execution"], r["period"]) for r in session.rerun]
    assert period == DAY_TWO
    (succeeded,) = [
        e
        for e in session.after_rerun
        if e.get("execution") == rerun_execution and e.get("status") == "SUCCEEDED"
    ]
    recovered = _headed(session.everything, RECOVERED)
    assert sorted((a["channel"], a["to"]) for a in recovered) == RECIPIENTS
    assert all(succeeded["time"] <= a["time"] <= f"{DAY_TWO}T09:30:00Z" for a in recovered)
    # each Slack channel's RECOVERED is a reply in that channel's LATE thread
    late_threads = {
        a["to"]: a["thread"] for a in _headed(session.everything, LATE) if a["channel"] == "SLACK"
    }
    assert all(late_threads.values())
    assert {a["to"]: a["thread"] for a in recovered if a["channel"] == "SLACK"} == late_threads
    text = recovered[0]["text"].splitlines()
    assert f"Status:    SUCCEEDED at {DAY_TWO} 09:11" in text
    assert "Late by:   3h 11m 00s" in text
    assert f"Execution: {rerun_execution}" in text
