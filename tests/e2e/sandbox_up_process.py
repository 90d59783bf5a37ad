"""`dpc sandbox up` as a process, and the other shells a user points at it."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest

from dpc.constants import ENV_DEPENDENCIES_TABLE, ENV_RUN_LOG_TABLE, ENV_TRIGGER_STATE_TABLE

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


@contextmanager
def sandbox_up_process(tmp_path: Path, *arguments: str) -> Iterator[Running]:
    """`dpc sandbox up --json ARGUMENTS` (e.g. ``--keep DIR``), its stderr in tmp_path."""
    with (tmp_path / "stderr.txt").open("w") as stderr:
        process = subprocess.Popen(
            [str(DPC), "sandbox", "up", "--json", *arguments],
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
    """Another shell, where the user pasted the printed environment: the JSON it printed."""
    done = shell(environment, *arguments)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _pasted(environment: dict[str, str]) -> dict[str, str]:
    """This process's environment with ``environment`` pasted over it, as in a new shell."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"AWS_PROFILE", "AWS_SESSION_TOKEN", ENV_RUN_LOG_TABLE}
        and name not in {ENV_DEPENDENCIES_TABLE, ENV_TRIGGER_STATE_TABLE}
    }
    env.update(environment, AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    return env


def shell(
    environment: dict[str, str], *arguments: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`dpc ARGUMENTS` in another shell with ``environment`` pasted."""
    return subprocess.run(
        [str(DPC), *arguments],
        capture_output=True,
        text=True,
        env=_pasted(environment),
        cwd=cwd,
        timeout=SAFETY_TIMEOUT,
        check=False,
    )


def in_background(environment: dict[str, str], *arguments: str) -> subprocess.Popen[str]:
    """`dpc ARGUMENTS` left running in another shell (one that waits for runs to end)."""
    return subprocess.Popen(
        [str(DPC), *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_pasted(environment),
    )


def aws_client(environment: dict[str, str], service: str) -> Any:
    """A plain boto3 client of the endpoint, with the keys ``environment`` carries."""
    return boto3.client(
        service,
        endpoint_url=environment["AWS_ENDPOINT_URL"],
        region_name=environment["AWS_DEFAULT_REGION"],
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
    )


def with_keys_of(hello: dict[str, Any], name: str) -> dict[str, str]:
    """The printed environment with the access keys of account ``name`` (A, B, C) pasted."""
    keys = {account["name"]: account for account in hello["accounts"]}[name]
    return {
        **hello["environment"],
        "AWS_ACCESS_KEY_ID": keys["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": keys["secret_access_key"],
    }
