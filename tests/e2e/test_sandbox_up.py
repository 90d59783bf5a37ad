"""`dpc sandbox up` as a user meets it: a real process that stays up, prints the environment
for the AWS SDK, and moves its virtual clock when told on stdin; `dpc runs` and `dpc why`,
run as other processes with that environment, read what happened.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dpc.constants import ENV_DEPENDENCIES_TABLE, ENV_RUN_LOG_TABLE, ENV_TRIGGER_STATE_TABLE

pytestmark = pytest.mark.slow

DPC = Path(sys.executable).parent / "dpc"
A, B, C = "111111111111", "222222222222", "333333333333"
SAFETY_TIMEOUT = 300
"""Seconds: only so a hung process fails the test instead of hanging it, never a speed check."""


class Running:
    """`dpc sandbox up --json`, its stdout read line by line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def next_json(self) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=SAFETY_TIMEOUT)
        except queue.Empty:
            pytest.fail("dpc sandbox up printed nothing more")
        return dict(json.loads(line))

    def quit(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("quit\n")
        self.process.stdin.close()

    def command(self, line: str) -> tuple[list[dict[str, Any]], str]:
        """Send one control line; the timeline entries it caused, and the virtual time."""
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        happened = []
        while "now" not in (entry := self.next_json()):
            happened.append(entry)
        return happened, str(entry["now"])


@pytest.fixture
def sandbox_up(tmp_path: Path) -> Iterator[Running]:
    with (tmp_path / "stderr.txt").open("w") as stderr:
        process = subprocess.Popen(
            [str(DPC), "sandbox", "up", "--json"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, "NO_COLOR": "1"},
        )
        try:
            yield Running(process)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def as_user(environment: dict[str, str], *arguments: str) -> Any:
    """Another shell, where the user pasted the printed environment."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"AWS_PROFILE", "AWS_SESSION_TOKEN", ENV_RUN_LOG_TABLE}
        and name not in {ENV_DEPENDENCIES_TABLE, ENV_TRIGGER_STATE_TABLE}
    }
    env.update(environment, AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    done = subprocess.run(
        [str(DPC), *arguments],
        capture_output=True,
        text=True,
        env=env,
        timeout=SAFETY_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


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
