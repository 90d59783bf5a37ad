"""`dpc simulate`: replay status events through §5 with the trigger manager's own code.

``--backend memory`` runs the engine on the in-memory store; ``--backend dynamodb`` runs the
trigger-manager handler logic, the DynamoDB store and the registry on moto, in-process.
stdout carries only the trigger lines (DESIGN §5); explanations go to stderr.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dpc.errors import DpcError, UsageError

if TYPE_CHECKING:
    from dpc.triggers.engine import Outcome
    from dpc.triggers.events import RunEvent
    from dpc.triggers.model import ParentRef
    from dpc.triggers.periods import Unit

SIMULATE_HELP = (
    "What-if replay of the trigger rules (DESIGN §5, §5b): which pipelines would start, "
    "and when.\n\n"
    "EVENTS is a JSON Lines file, one status change a line in arrival order:\n\n"
    '{"time": "2026-11-27T03:10:00Z", "pipeline": "listings", "account": "111111111111", '
    '"status": "SUCCEEDED", "execution": "listings-2026-11-27"}\n\n'
    "Optional on a line: \"period\" (the run's data interval in the parent's unit, e.g. "
    '2026-11-26; default: the period containing its time) and "propagate": false (a run '
    "started with --no-downstream).\n\n"
    "Each trigger is printed as one JSON line: the 0-based line number of the event that "
    "fired it, the pipeline, its account, the trigger id, the causes and, for a "
    "pipeline with correlate: period, the period it runs for. Events of pipelines "
    "the org does not define are accepted and change nothing. No AWS account is needed."
)

SIMULATE_EPILOG = """Examples:

  dpc simulate samples/case-study --events day.jsonl

  dpc simulate samples/case-study --events day.jsonl --explain      # why, on stderr

  dpc simulate samples/case-study --events day.jsonl --backend dynamodb
"""

_ACCOUNT = re.compile(r"\d{12}")


class Backend(StrEnum):
    memory = "memory"
    dynamodb = "dynamodb"


def read_events(
    path: Path, units: Mapping[ParentRef, Unit] | None = None
) -> list[tuple[int, RunEvent]]:
    """(0-based line number, event) for every non-blank line; a bad line is a located error.

    Every event gets its period (§5b): the line's ``"period"``, which must be of the parent's
    unit (``units``: the org's pipelines; any other parent counts as unit day), else the
    parent's period containing the line's time."""
    from dpc.triggers.events import RunEvent
    from dpc.triggers.periods import PeriodError, parse_period, period_containing

    try:
        content = path.read_bytes()
    except OSError as error:
        raise DpcError(f"{path}: cannot read events: {error.strerror}") from None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        row = content.count(b"\n", 0, error.start) + 1
        column = error.start - content.rfind(b"\n", 0, error.start)
        raise DpcError(
            f"{path}:{row}:{column}: not UTF-8 text; events are JSON Lines, one object a line"
        ) from None
    # JSON Lines ends a line at "\n" only: str.splitlines() would also split a valid JSON
    # string holding U+2028 or U+0085 into two halves that are not JSON.
    lines = text.split("\n")
    events = []
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        where = f"{path}:{number + 1}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise DpcError(f"{where}:{error.colno}: not valid JSON: {error.msg}") from None
        if not isinstance(data, dict):
            raise DpcError(f"{where}: expected a JSON object with {_FIELDS}")
        missing = [
            name
            for name in ("time", "pipeline", "account", "status", "execution")
            if not data.get(name)
        ]
        if missing:
            raise DpcError(f"{where}: missing {', '.join(missing)} (an event has {_FIELDS})")
        if not isinstance(data["account"], str) or not _ACCOUNT.fullmatch(data["account"]):
            raise DpcError(
                f"{where}: account: expected a 12-digit string, got {json.dumps(data['account'])}"
            )
        try:
            event = RunEvent.from_json({k: v for k, v in data.items() if k != "period"})
        except ValueError as error:
            raise DpcError(f"{where}: {error}") from None
        unit = (units or {}).get(event.pipeline, "day")
        if "period" in data:
            try:
                period = parse_period(str(data["period"]), unit)
            except PeriodError as error:
                raise DpcError(f"{where}: period: {error} (the unit of {event.pipeline})") from None
        else:
            period = period_containing(unit, event.time)
        events.append((number, replace(event, period=period)))
    return events


_FIELDS = "time, pipeline, account, status, execution"


def simulate(
    org_dir: Annotated[
        Path,
        typer.Argument(
            help="Folder of projects (the organization)", exists=True, show_default=False
        ),
    ],
    events: Annotated[
        Path | None,
        typer.Option(
            "--events", "-e", help="JSON Lines file of status events", exists=True, dir_okay=False
        ),
    ] = None,
    history: Annotated[
        str | None,
        typer.Option(
            "--history",
            help="Instead of --events: replay the central run log of this long (30d) and "
            "print what the folder's rules would have started differently.",
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="With --history: the end of the replayed time [now]."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="With --history: the differences as JSON.")
    ] = False,
    profile: Annotated[
        str | None, typer.Option("--profile", help="With --history: AWS profile (central).")
    ] = None,
    region: Annotated[str | None, typer.Option("--region", help="With --history.")] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option(
            "--endpoint-url",
            envvar="AWS_ENDPOINT_URL",
            show_envvar=False,
            help="With --history: send AWS calls here (e.g. the sandbox).",
        ),
    ] = None,
    backend: Annotated[
        Backend, typer.Option("--backend", help="memory, or the Lambda's DynamoDB store on moto")
    ] = Backend.memory,
    explain: Annotated[
        bool, typer.Option("--explain", help="Write every evaluation and why to stderr.")
    ] = False,
) -> None:
    from dpc.spec.loader import load_org
    from dpc.spec.org import ref_of

    if (events is None) == (history is None):
        raise UsageError("give either --events FILE or --history DURATION")
    org = load_org([org_dir])
    conditions = {
        ref_of(p): p.trigger.executions for p in org.pipelines if p.trigger.executions is not None
    }
    if history is not None:
        _replay_history(conditions, history, until, as_json, (profile, region, endpoint_url))
        return
    assert events is not None
    refs = [ref_of(p) for p in org.pipelines]
    correlated = {ref for ref, condition in conditions.items() if condition.correlated}
    replayed = read_events(events, {ref_of(p): p.period.unit for p in org.pipelines})
    run = _run_dynamodb if backend is Backend.dynamodb else _run_memory
    for number, outcome in run(refs, conditions, [event for _, event in replayed]):
        line = replayed[number][0]
        if explain:
            _explain(line, replayed[number][1], outcome, known=replayed[number][1].pipeline in refs)
        for trigger in outcome.published:
            detail = trigger.detail()
            # DESIGN §5's line: the lineage is the causes' pipelines here (input lines carry
            # none), so it adds nothing to read
            detail.pop("upstream", None)
            if trigger.child not in correlated:
                detail.pop("period", None)  # §5's line: a latest child's period is its own
            typer.echo(json.dumps({"event": line, **detail}))


def _replay_history(
    conditions: Mapping[Any, Any],
    history: str,
    until: str | None,
    as_json: bool,
    aws: tuple[str | None, str | None, str | None],
) -> None:
    from datetime import UTC, datetime

    from dpc.cli.console import err
    from dpc.cli.observe import instant
    from dpc.observe.aws import AwsOptions, aws_errors
    from dpc.observe.central import Central
    from dpc.observe.history import differences, summary

    now = datetime.now(UTC) if until is None else instant(until, datetime.now(UTC), "--until")
    since = instant(history, now, "--history")
    with err.status("Reading the run log…"), aws_errors():
        runs = Central.connect(AwsOptions(*aws)).runs(now, since, limit=HISTORY_LIMIT)
    found = differences(conditions, sorted(runs, key=lambda r: r.started_at))
    if as_json:
        typer.echo(json.dumps([d.to_json() for d in found], indent=2))
    else:
        for difference in found:
            typer.echo(str(difference))
    err.print(summary(found, f"{since:%Y-%m-%d %H:%M} UTC"))


HISTORY_LIMIT = 100_000
"""Runs read for --history at most: a month of 3,000 daily pipelines."""

Outcomes = Iterator[tuple[int, Any]]


def _run_memory(refs: Sequence[Any], conditions: dict[Any, Any], events: Sequence[Any]) -> Outcomes:
    from dpc.triggers.replay import replay_in_memory

    yield from replay_in_memory(conditions, events)


def _run_dynamodb(
    refs: Sequence[Any], conditions: dict[Any, Any], events: Sequence[Any]
) -> Outcomes:
    from dpc.cli.console import err

    with err.status("Starting the embedded DynamoDB…"), _embedded_aws() as (dynamodb, bus):
        from dpc.lambdas.central import LocalCentral

        yield from LocalCentral.create(dynamodb, bus).replay(refs, conditions, events)


@contextmanager
def _embedded_aws() -> Iterator[tuple[Any, Any]]:
    """moto in-process, never the network; the handler's logs silenced (stdout is data)."""
    import logging
    import os
    from unittest import mock

    credentials = {
        "AWS_ACCESS_KEY_ID": "simulate",
        "AWS_SECRET_ACCESS_KEY": "simulate",
        "AWS_SESSION_TOKEN": "simulate",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
    }
    with mock.patch.dict(os.environ, credentials):
        os.environ.pop("AWS_ENDPOINT_URL", None)
        os.environ.pop("AWS_PROFILE", None)
        import boto3
        from moto import mock_aws

        from dpc.lambdas.trigger_manager import logger

        previous = logger.log_level
        logger.setLevel(logging.CRITICAL)
        try:
            with mock_aws():
                yield boto3.client("dynamodb"), boto3.client("events")
        finally:
            logger.setLevel(previous)


def _explain(line: int, event: RunEvent, outcome: Outcome, known: bool) -> None:
    from rich.markup import escape

    from dpc.cli.console import err

    when = f"{event.time:%Y-%m-%d %H:%M:%S}"
    head = f"event {line}: {event.pipeline} {event.status} ({event.execution}) at {when}"
    if not known:
        err.print(escape(f"{head}: not a pipeline of this org (accepted, changes nothing)"))
        return
    if outcome.acceptance.value in ("duplicate", "stale"):
        reason = {
            "duplicate": "already processed (rule 1)",
            "stale": "RUNNING after this run ended (rule 2)",
        }[outcome.acceptance.value]
        err.print(escape(f"{head}: ignored, {reason}"))
        return
    if not outcome.evaluations:
        err.print(escape(f"{head}: no pipeline waits for it"))
        return
    err.print(escape(head))
    for evaluation in outcome.evaluations:
        styles: dict[str, Callable[[str], str]] = {
            "TRIGGERED": lambda text: f"[green]{text}[/]",
            "NOT_MET": lambda text: f"[yellow]{text}[/]",
            "IGNORED": lambda text: f"[dim]{text}[/]",
            "BLOCKED": lambda text: f"[red]{text}[/]",
        }
        result = evaluation.result
        suffix = f" {evaluation.trigger_id}" if evaluation.trigger_id else ""
        if evaluation.period is not None:
            suffix += f" for {evaluation.period}"
        err.print(f"  → {escape(str(evaluation.child))}: " + styles[result](result + suffix))
        for note in evaluation.notes:
            err.print(f"      {escape(note)}")
        for item in evaluation.items:
            mark = "[green]✓[/]" if item.met else "[red]✗[/]"
            err.print(f"      {mark} {item.block} {escape(item.reason)}")


def register(app: typer.Typer) -> None:
    app.command(
        name="simulate",
        help=SIMULATE_HELP,
        short_help="Replay status events through the trigger rules, "
        "e.g. dpc simulate samples/case-study --events day.jsonl",
        epilog=SIMULATE_EPILOG,
    )(simulate)
