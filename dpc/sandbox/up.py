"""`dpc sandbox up`: a sandbox that stays up, so a user can point the AWS CLI, boto3 and dpc's
own `dpc runs` / `dpc why` / `dpc graph --central` at it by hand.

The org is deployed with the demo's deploy code (``deploy_org``). Nothing moves on its own:
the virtual clock advances only when told, through a line-based control on stdin (a
terminal, or a test's pipe). Every command is answered with what happened meanwhile (runs,
triggers, alerts, as in the demo's timeline) and then one line naming the virtual time, so
a program driving it knows when its command is done.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from dpc.errors import DpcError, UsageError
from dpc.sandbox.org import Timings, accounts_for, deploy_org, load_projects
from dpc.sandbox.sandbox import DEFAULT_START, Sandbox
from dpc.sandbox.server import CASE_STUDY_ACCOUNTS, CENTRAL_ACCOUNT
from dpc.sandbox.story import DAY, UPSTREAM, Progress, case_study
from dpc.sandbox.timeline import Entry

COMMANDS = (
    "advance DURATION   move the virtual clock forward (90m, 6h, 1d, 1d12h)\n"
    "until TIME         move it to an ISO time (2026-11-28T09:00, UTC unless it says)\n"
    "now                print the virtual time (and deliver what a direct API call caused)\n"
    "quit               stop the sandbox (Ctrl-C too)"
)


@dataclass(frozen=True)
class Answer:
    """What one control command caused: the timeline entries since the last answer, and the
    virtual time after it; ``stop`` when the user asked to quit."""

    happened: tuple[Entry, ...]
    now: datetime
    stop: bool = False


class Controlled:
    """A deployed org on a sandbox whose clock the user moves."""

    def __init__(self, sandbox: Sandbox, names: dict[str, str], upstream: Path | None) -> None:
        self.sandbox = sandbox
        self.names = names
        """Account id → the name the timeline gives it (``A``, ``central``)."""
        self._upstream = upstream
        self._next_landing = sandbox.now
        self._seen = len(sandbox.timeline.entries)

    def handle(self, line: str) -> Answer:
        """Apply one command; a bad one raises UsageError and moves nothing."""
        words = line.split()
        command, arguments = (words[0].lower(), words[1:]) if words else ("now", [])
        if command in ("quit", "exit"):
            return Answer((), self.sandbox.now, stop=True)
        if command == "advance" and len(arguments) == 1:
            self._run_until(self.sandbox.now + _duration(arguments[0]))
        elif command == "until" and len(arguments) == 1:
            self._run_until(_moment(arguments[0], self.sandbox.now))
        elif command == "now" and not arguments:
            self.sandbox.settle()
        else:
            raise UsageError(f"unknown command {line.strip()!r}; the commands are:\n{COMMANDS}")
        return self._answer()

    def _run_until(self, moment: datetime) -> None:
        # The org's upstream systems land each day's input at midnight, as in the demo.
        while self._upstream is not None and self._next_landing <= moment:
            self.sandbox.clock.at(self._next_landing, self._land)
            self._next_landing += DAY
        self.sandbox.run_until(moment)

    def _land(self) -> None:
        assert self._upstream is not None
        self.sandbox.land(self._upstream)

    def _answer(self) -> Answer:
        entries = self.sandbox.timeline.entries
        happened, self._seen = tuple(entries[self._seen :]), len(entries)
        return Answer(happened, self.sandbox.now)


def _duration(text: str) -> timedelta:
    from dpc.spec.checks import parse_duration

    duration = parse_duration(text)
    if duration is None or duration <= timedelta(0):
        raise UsageError(f"advance {text!r}: give a duration such as 90m, 6h, 1d or 1d12h")
    return duration


def _moment(text: str, now: datetime) -> datetime:
    from dpc.triggers.timefmt import parse_time

    try:
        moment = parse_time(text)
    except ValueError:
        raise UsageError(f"until {text!r}: give an ISO time such as 2026-11-28T09:00") from None
    if moment < now:
        raise UsageError(f"until {text}: the virtual clock is already at {now:%Y-%m-%dT%H:%M}Z")
    return moment


def _check_port(port: int) -> None:
    """The embedded server would wait forever for a port it cannot bind: say so first."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise DpcError(f"--port {port}: cannot listen on 127.0.0.1:{port} ({error})") from None


@contextmanager
def sandbox_up(
    org_dir: Path | None,
    *,
    port: int = 0,
    start: datetime = DEFAULT_START,
    work_dir: Path | None = None,
    progress: Progress = lambda _: None,
) -> Iterator[Controlled]:
    """Deploy ``org_dir`` (the case study by default) and hold the sandbox open."""
    folder = case_study(org_dir)
    pipelines = load_projects(folder)
    if org_dir is None:
        accounts, names = dict(CASE_STUDY_ACCOUNTS), {a: n for n, a in CASE_STUDY_ACCOUNTS.items()}
    else:
        accounts, names = accounts_for(pipelines, CENTRAL_ACCOUNT), {CENTRAL_ACCOUNT: "central"}
    _check_port(port)
    sandbox = Sandbox(accounts=accounts, start=start, work_dir=work_dir)
    sandbox.server.port = port
    with sandbox:
        deploy_org(sandbox, pipelines, timings=Timings(), progress=progress)
        upstream = folder / UPSTREAM
        yield Controlled(sandbox, names, upstream if upstream.is_file() else None)
