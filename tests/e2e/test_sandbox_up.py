"""`dpc sandbox up` as a user meets it: a real process that stays up, prints the environment
for the AWS SDK, and moves its virtual clock when told on stdin; `dpc runs` and `dpc why`,
run as other processes with that environment, read what happened.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_up_process import (
    SAFETY_TIMEOUT,
    A,
    B,
    C,
    Running,
    as_user,
    aws_client,
    in_background,
    sandbox_up_process,
    with_keys_of,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def sandbox_up(tmp_path: Path) -> Iterator[Running]:
    with sandbox_up_process(tmp_path) as running:
        yield running


def test_runs_and_why_by_hand_after_advancing_the_clock_one_day(sandbox_up: Running) -> None:
    # Given the sandbox is up with the case study deployed, its clock at day 1's midnight
    hello = sandbox_up.next_json()
    environment = hello["environment"]
    assert environment["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert hello["central_account"] == "999999999999"
    assert {a["name"]: a["account"] for a in hello["accounts"]} == {"A": A, "B": B, "C": C}
    assert hello["now"] == "2026-11-27T00:00:00Z"
    assert as_user(environment, "runs", "--json", "--until", hello["now"]) == []

    # When a bad command is typed, nothing moves; then the clock is advanced one day
    assert sandbox_up.command("advance soon") == ([], "2026-11-27T00:00:00Z")
    happened, now = sandbox_up.command("advance 1d")

    # Then the day's runs happened, told as the demo tells them, and `dpc runs` lists them
    assert now == "2026-11-28T00:00:00Z"
    triggers = [entry["trigger"]["pipeline"] for entry in happened if "trigger" in entry]
    assert triggers == ["pipeline-x"]
    runs = as_user(environment, "runs", "--json", "--since", "1d", "--until", now)
    by_pipeline = {run["pipeline"]: run for run in runs}
    assert set(by_pipeline) == {"listings", "searches", "pipeline-x"}
    assert (by_pipeline["pipeline-x"]["account"], by_pipeline["pipeline-x"]["status"]) == (
        C,
        "SUCCEEDED",
    )
    assert by_pipeline["pipeline-x"]["triggered_by"] == (
        f"listings@{A} SUCCEEDED, searches@{B} SUCCEEDED"
    )
    why = as_user(environment, "why", "pipeline-x", "--json")
    assert why["summary"].startswith(f"pipeline-x@{C} was triggered after searches@{B} SUCCEEDED")

    # And `quit` stops it cleanly
    sandbox_up.quit()
    assert sandbox_up.process.wait(timeout=SAFETY_TIMEOUT) == 0


def test_rerun_and_backfill_from_another_shell_rebuild_the_period_downstream(
    sandbox_up: Running,
) -> None:
    # Given day 1 has run, and team B's shell has account B's keys pasted
    hello = sandbox_up.next_json()
    team_b = with_keys_of(hello, "B")
    _, now = sandbox_up.command("advance 1d")
    runs = as_user(hello["environment"], "runs", "--json", "--since", "1d", "--until", now)
    (searches,) = [run for run in runs if run["pipeline"] == "searches"]

    # When team B reruns searches' run of 27 Nov and the sandbox's clock moves on
    rerun = as_user(team_b, "rerun", searches["execution"], "--json")
    happened, _ = sandbox_up.command("advance 1h")

    # Then the rerun ran for 27 Nov, and pipeline-x (correlate: period) reran that day
    assert [(r["period"], r["rerun_of"]) for r in rerun] == [("2026-11-27", "s-20261127T0500")]
    finished = {(e["pipeline"], e["status"]) for e in happened if "status" in e}
    assert ("searches", "SUCCEEDED") in finished
    assert ("pipeline-x", "SUCCEEDED") in finished
    (retrigger,) = [e["trigger"] for e in happened if "trigger" in e]
    assert (retrigger["pipeline"], retrigger["period"]) == ("pipeline-x", "2026-11-27")

    # When team B backfills 27 Nov: the command waits for its run, as it would on AWS,
    # until the sandbox's clock is moved
    backfill = in_background(
        team_b,
        "backfill",
        "searches",
        "--from",
        "2026-11-27",
        "--to",
        "2026-11-27",
        "--poll",
        "0.2",
        "--json",
    )
    _wait_for_execution(team_b, "dpc-searches", prefix="b-2026-11-27-")
    sandbox_up.command("advance 1h")
    output, errors = backfill.communicate(timeout=SAFETY_TIMEOUT)

    # Then it reports the period done and exits 0
    assert backfill.returncode == 0, errors
    assert [(r["period"], r["status"]) for r in json.loads(output)] == [("2026-11-27", "SUCCEEDED")]
    sandbox_up.quit()


def _wait_for_execution(environment: dict[str, str], state_machine: str, prefix: str) -> None:
    """Until an execution named ``prefix…`` of ``state_machine`` was started (boto3, as a
    plain client of the endpoint)."""
    states = aws_client(environment, "stepfunctions")
    (machine,) = [
        m for m in states.list_state_machines()["stateMachines"] if m["name"] == state_machine
    ]
    deadline = time.monotonic() + SAFETY_TIMEOUT
    while time.monotonic() < deadline:
        executions = states.list_executions(stateMachineArn=machine["stateMachineArn"])
        if any(e["name"].startswith(prefix) for e in executions["executions"]):
            return
        time.sleep(0.1)
    pytest.fail(f"no execution {prefix}… of {state_machine} was started")
