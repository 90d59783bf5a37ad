"""Manual starts through a pipeline's own state machine, with the §6 execution input.

The input and the start itself are the starter Lambda's (dpc.lambdas.starter), so a run
started by hand looks exactly like one started by a rule. Every start here names its
execution deterministically where a repeat must not start a second run, and lets Step
Functions refuse the repeat (a name is unique per state machine for 90 days):

- ``dpc run``: ``m-<period>-<hash of the start minute>`` — a new run each time (a second
  start within the same minute is taken for an accidental repeat);
- ``dpc rerun``: ``r-<period>-<hash of (original, start minute)>`` — likewise; its input
  names the original;
- ``dpc backfill``: ``b-<period>-<hash of (pipeline, first, last, propagate)>`` — running
  the same backfill again starts nothing for a period it already started.

boto3 clients are passed in; nothing here knows whether it talks to AWS or the sandbox.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dpc.errors import DpcError, UsageError
from dpc.lambdas import arns
from dpc.lambdas.starter import execution_arn, execution_input, start_run
from dpc.triggers.periods import (
    Period,
    PeriodError,
    PeriodSpec,
    parse_period,
    period_containing,
    periods_between,
)

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


@dataclass(frozen=True)
class Target:
    """A deployed pipeline: its name, account, state machine and period."""

    name: str
    account: str
    region: str
    period: PeriodSpec

    @property
    def state_machine_arn(self) -> str:
        return arns.state_machine_arn(self.region, self.account, self.name)

    def execution_arn(self, execution: str) -> str:
        return execution_arn(self.state_machine_arn, execution)

    def period_of(self, text: str) -> Period:
        """A period given on the command line, which must be of this pipeline's unit."""
        try:
            return parse_period(text, self.period.unit)
        except PeriodError as error:
            raise UsageError(f"{self.name}: {error}") from None


@dataclass(frozen=True)
class Started:
    period: Period
    execution: str
    new: bool
    """False when this name had been started before (a repeated backfill): nothing started."""


def _short_id(*parts: object) -> str:
    """8 hex digits of the parts: names that repeat only when the same start is repeated."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:8]


def start(sfn: SFNClient, target: Target, name: str, dpc_input: dict[str, Any]) -> bool:
    """Start ``name``; False when an execution of that name exists already (idempotent)."""
    try:
        return start_run(sfn, target.state_machine_arn, name, dpc_input)
    except sfn.exceptions.StateMachineDoesNotExist:
        raise DpcError(
            f"{target.name} is not deployed in account {target.account} "
            f"({target.state_machine_arn}): run `dpc deploy` first"
        ) from None


def run_now(sfn: SFNClient, target: Target, period: Period | None, now: datetime) -> Started:
    """``dpc run``: one manual run, for ``period`` or the period containing now + offset."""
    period = period or target.period.at(now)
    name = f"m-{period}-{_short_id(target.name, period, f'{now:%Y%m%dT%H%M}')}"
    start(sfn, target, name, execution_input(period))
    return Started(period, name, True)


def rerun(
    sfn: SFNClient, target: Target, execution: str, propagate: bool, now: datetime
) -> Started:
    """``dpc rerun``: the original's period (and causes), ``rerun_of`` naming it."""
    try:
        original = sfn.describe_execution(executionArn=target.execution_arn(execution))
    except sfn.exceptions.ExecutionDoesNotExist:
        raise DpcError(f"{target.name} has no execution named '{execution}'") from None
    try:
        dpc_input = json.loads(original.get("input") or "{}").get("dpc") or {}
    except (ValueError, AttributeError):
        dpc_input = {}
    text = dpc_input.get("period") if isinstance(dpc_input, dict) else None
    try:
        period = parse_period(str(text)) if text else None
    except PeriodError:
        period = None
    if period is None:  # started by hand without dpc input: the period of its start
        period = period_containing(target.period.unit, original["startDate"])
    name = f"r-{period}-{_short_id(execution, f'{now:%Y%m%dT%H%M}')}"
    causes = dpc_input.get("causes") if isinstance(dpc_input, dict) else None
    start(
        sfn,
        target,
        name,
        execution_input(
            period,
            trigger_id=None,
            causes=causes if isinstance(causes, list) else [],
            rerun_of=execution,
            propagate=propagate,
        ),
    )
    return Started(period, name, True)


@dataclass
class Backfill:
    """``dpc backfill``: every period from ``first`` to ``last``, oldest first, at most
    ``parallel`` running at once; waits for each to end."""

    sfn: SFNClient
    target: Target
    first: Period
    last: Period
    parallel: int = 1
    propagate: bool = True
    poll_seconds: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    on_change: Callable[[Backfill], None] = lambda _: None
    started: list[Started] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)
    """Execution name → its last known status."""

    def __post_init__(self) -> None:
        if self.parallel < 1:
            raise UsageError("--parallel must be at least 1")
        try:
            self.periods = periods_between(self.first, self.last)
        except PeriodError as error:
            raise UsageError(str(error)) from None

    @property
    def backfill_id(self) -> str:
        identity = f"{self.target.name}@{self.target.account}|{self.first}|{self.last}"
        identity += f"|{self.propagate}"
        return hashlib.sha256(identity.encode()).hexdigest()[:10]

    def name_of(self, period: Period) -> str:
        return f"b-{period}-{self.backfill_id}"

    def run(self) -> list[Started]:
        pending = list(self.periods)
        running: list[str] = []
        while pending or running:
            while pending and len(running) < self.parallel:
                period = pending.pop(0)
                name = self.name_of(period)
                dpc_input = execution_input(period, propagate=self.propagate)
                new = start(self.sfn, self.target, name, dpc_input)
                self.started.append(Started(period, name, new))
                self.statuses[name] = "RUNNING" if new else "STARTED BEFORE"
                if new:
                    running.append(name)
                self.on_change(self)
            if not running:
                continue
            self.sleep(self.poll_seconds)
            for name in list(running):
                status = self.sfn.describe_execution(executionArn=self.target.execution_arn(name))[
                    "status"
                ]
                self.statuses[name] = status
                if status in TERMINAL:
                    running.remove(name)
            self.on_change(self)
        return self.started

    @property
    def failed(self) -> list[Started]:
        return [
            s for s in self.started if self.statuses.get(s.execution) in TERMINAL - {"SUCCEEDED"}
        ]


def utc_now() -> datetime:
    return datetime.now(UTC)
