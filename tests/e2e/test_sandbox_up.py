"""`dpc sandbox up` as a user meets it: a real process that stays up, prints the environment
for the AWS SDK, and moves its virtual clock when told on stdin; `dpc runs` and `dpc why`,
run as other processes with that environment, read what happened.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_up_process import SAFETY_TIMEOUT, A, B, C, Running, as_user, sandbox_up_process

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
