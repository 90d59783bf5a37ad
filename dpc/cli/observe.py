"""`dpc graph`, `dpc runs`, `dpc why`: seeing the org, its runs, and why a pipeline ran or not.

Thin: reading lives in dpc.observe (boto3, imported lazily) and drawing in dpc.lineage.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dpc.cli.console import err, out
from dpc.errors import UsageError

if TYPE_CHECKING:
    from rich.console import RenderableType

    from dpc.triggers.periods import Period


class Collapse(StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


class GraphFormat(StrEnum):
    mermaid = "mermaid"
    dot = "dot"
    html = "html"
    json = "json"


_SUFFIX_FORMATS = {".html": "html", ".htm": "html", ".dot": "dot", ".gv": "dot", ".mmd": "mermaid"}

Profile = Annotated[
    str | None, typer.Option("--profile", help="AWS named profile (central account).")
]
Region = Annotated[
    str | None,
    typer.Option("--region", help="AWS region (default: AWS_REGION / the profile's)."),
]
EndpointUrl = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        envvar="AWS_ENDPOINT_URL",
        show_envvar=False,
        help="Send AWS calls here instead (e.g. the sandbox). Default: $AWS_ENDPOINT_URL.",
    ),
]

GRAPH_HELP = (
    "Draw the dependency graph: pipelines grouped by account, edges labelled with the "
    "statuses they wait for (allOf solid, anyOf dashed), schedules shown."
)
GRAPH_EPILOG = """Examples:

  dpc graph samples/case-study                  # Mermaid, for Markdown

  dpc graph samples/case-study -o org.html      # one offline page

  dpc graph samples/case-study -f dot | dot -Tsvg > org.svg

  dpc graph --central --profile central -o org.html
"""


def graph(
    org_dir: Annotated[
        Path | None,
        typer.Argument(help="Folder of projects (an org) to draw.", show_default=False),
    ] = None,
    output_format: Annotated[
        GraphFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="mermaid (default), dot (Graphviz), html (one offline file) or json.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to FILE (format from its suffix)."),
    ] = None,
    central: Annotated[
        bool,
        typer.Option("--central", help="Draw the deployed registry, coloured by last status."),
    ] = False,
    period: Annotated[
        str | None,
        typer.Option(
            "--period",
            help="With --central: colour each pipeline by its state for this period (done, "
            "running, failed, late, waiting), as dpc status reports it.",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="With --period: judge lateness at this ISO time."),
    ] = None,
    collapse_accounts: Annotated[
        Collapse,
        typer.Option(
            "--collapse",
            help="One box per account (its pipelines counted by state): always, never, or "
            "auto (beyond 200 pipelines).",
        ),
    ] = Collapse.auto,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
) -> None:
    from dpc.lineage import render
    from dpc.lineage.graph import COLLAPSE_ABOVE, build, collapse

    if central == (org_dir is not None):
        raise UsageError("give either ORG_DIR or --central (see dpc graph --help)")
    if period is not None and not central:
        raise UsageError("--period colours the deployed registry: give it with --central")
    if as_json and output_format not in (None, GraphFormat.json):
        raise UsageError("--json and --format are two ways to say the same thing: give one")
    chosen = "json" if as_json else output_format.value if output_format else None
    if chosen is None and output is not None:
        chosen = _SUFFIX_FORMATS.get(output.suffix.lower())
    chosen = chosen or "mermaid"

    if org_dir is not None:
        from dpc.spec.loader import load_org

        lineage = build(load_org([org_dir]).pipelines)
        title = f"dpc dependency graph — {org_dir.resolve().name}"
    elif period is not None:
        from dpc.observe.aws import AwsOptions, aws_errors
        from dpc.observe.central import Central

        wanted = _period_of(period)
        now = datetime.now(UTC) if until is None else instant(until, datetime.now(UTC), "--until")
        with err.status("Reading the registry and the run log…"), aws_errors():
            registry = Central.connect(AwsOptions(profile, region, endpoint_url))
            pipelines = registry.pipelines()
            states = {
                s.pipeline: s.state for s in registry.status(wanted, now, pipelines=pipelines)
            }
        lineage = build(pipelines, states)
        title = f"dpc — the organization's {wanted}"
    else:
        from dpc.observe.aws import AwsOptions, aws_errors
        from dpc.observe.registry import read_registry

        with err.status("Reading the registry and the last runs…"), aws_errors():
            pipelines, statuses = read_registry(AwsOptions(profile, region, endpoint_url))
        lineage = build(pipelines, statuses)
        title = "dpc dependency graph — deployed registry"

    drawn = sum(1 for node in lineage.nodes if node.declared)
    dependencies = len(lineage.edges)
    if collapse_accounts is Collapse.always or (
        collapse_accounts is Collapse.auto and drawn > COLLAPSE_ABOVE
    ):
        lineage = collapse(lineage)
        title += f" ({drawn} pipelines, one box per account)"
    renderers = {
        "mermaid": render.to_mermaid,
        "dot": render.to_dot,
        "html": lambda lin: render.to_html(lin, title),
        "json": render.to_json,
    }
    text = renderers[chosen](lineage)
    if output is None:
        out.out(text, end="", highlight=False)
        return
    output.write_text(text, encoding="utf-8")
    err.print(f"wrote {output} ({chosen}, {drawn} pipelines, {dependencies} dependencies)")


RUNS_HELP = (
    "The central run log, newest first: pipeline, account, execution, status, start, "
    "duration, and what triggered it (a schedule, parent runs, or a manual start)."
)
RUNS_EPILOG = """Examples:

  dpc runs                                        # every pipeline, last 7 days

  dpc runs pipeline-x --account 333333333333      # one pipeline

  dpc runs --status FAILED --since 2d             # what failed lately

  dpc runs --json | jq '.[0]'

  dpc runs pipeline-x --period 2026-11-27       # every run for one data interval
"""

WHY_HELP = (
    "Why did (or didn't) a pipeline run? The recent evaluations of its trigger condition, "
    "newest first: the parent run that caused each, which items were met and which were "
    "not and why, and the trigger when one fired. With --period, first its state for that "
    "period in its late alert's words (due …: FAILED at … in step …: error; running since …; "
    "waiting on …)."
)
WHY_EPILOG = """Examples:

  dpc why pipeline-x

  dpc why pipeline-x --account 333333333333 --limit 3

  dpc why pipeline-x --json

  dpc why pipeline-x --period 2026-11-27        # which parent runs of that day are met
"""

PIPE_WIDTH = 1000

Account = Annotated[str | None, typer.Option("--account", help="Only this 12-digit AWS account.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
PeriodOption = Annotated[
    str | None,
    typer.Option("--period", help="Only this period (2026-11-27, 2026-11-27T05, 2026-W48, …)."),
]


def _period_of(text: str) -> Period:
    from dpc.triggers.periods import PeriodError, parse_period

    try:
        return parse_period(text)
    except PeriodError as error:
        raise UsageError(f"--period: {error}") from None


def _period(text: str | None) -> str | None:
    """A period as the run log writes it; a text that is no period is a usage error."""
    return None if text is None else str(_period_of(text))


def instant(text: str, now: datetime, option: str) -> datetime:
    """``2d`` / ``12h`` / ``90m`` before now, or an ISO date or time (UTC unless it says)."""
    from dpc.spec.checks import parse_duration
    from dpc.triggers.timefmt import parse_time

    duration = parse_duration(text)
    if duration is not None:
        try:
            return now - duration
        except OverflowError:
            raise UsageError(f"{option} {text!r} reaches before year 1") from None
    try:
        return parse_time(text)
    except ValueError:
        raise UsageError(
            f"{option} {text!r}: give a duration (2d, 12h, 90m) or an ISO time "
            "(2026-11-27 or 2026-11-27T05:00:00Z)"
        ) from None


def _status_option(text: str | None) -> str | None:
    from dpc.triggers.model import STATUSES

    if text is None:
        return None
    status = "SUCCEEDED" if text.upper() == "SUCCESS" else text.upper()
    if status not in STATUSES:
        raise UsageError(f"--status {text!r}: one of SUCCESS, {', '.join(STATUSES)}")
    return status


def _pipeline_argument(text: str | None, account: str | None) -> tuple[str | None, str | None]:
    """``name`` or ``name@account`` (the form every dpc message prints)."""
    if text is None or "@" not in text:
        return text, account
    name, _, in_text = text.rpartition("@")
    if account is not None and account != in_text:
        raise UsageError(f"{text} names account {in_text} but --account says {account}")
    return name, in_text


def _print_unsqueezed(renderable: RenderableType) -> None:
    """A terminal's width is respected; a pipe or file gets whole rows, never cut columns."""
    if out.is_terminal:
        out.print(renderable)
        return
    from rich.console import Console

    Console(file=out.file, width=PIPE_WIDTH, highlight=False, soft_wrap=True).print(renderable)


def runs(
    pipeline: Annotated[
        str | None,
        typer.Argument(help="Only this pipeline (name, or name@account).", show_default=False),
    ] = None,
    account: Account = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="Only runs whose status is this (SUCCESS, FAILED, ...)."),
    ] = None,
    since: Annotated[
        str, typer.Option("--since", help="Runs started after: 2d, 12h, 90m or an ISO time.")
    ] = "7d",
    until: Annotated[
        str | None,
        typer.Option("--until", help="Reference time for --since and durations [default: now]."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many runs.")] = 50,
    period: PeriodOption = None,
    as_json: AsJson = False,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
) -> None:
    from dpc.observe.aws import AwsOptions, aws_errors
    from dpc.observe.central import Central
    from dpc.observe.views import runs_table

    now = datetime.now(UTC) if until is None else instant(until, datetime.now(UTC), "--until")
    start = instant(since, now, "--since")
    name, account = _pipeline_argument(pipeline, account)
    wanted = _status_option(status)
    with err.status("Reading the run log…"), aws_errors():
        central = Central.connect(AwsOptions(profile, region, endpoint_url))
        found = central.runs(now, start, name, account, wanted, limit, _period(period))
    if as_json:
        out.print_json(json.dumps([run.to_json(now) for run in found]))
        return
    if not found:
        err.print(f"no runs since {start:%Y-%m-%d %H:%M} UTC match")
        return
    _print_unsqueezed(runs_table(found, now))
    more = " (the newest; raise --limit for more)" if len(found) == limit else ""
    err.print(f"[dim]{len(found)} runs since {start:%Y-%m-%d %H:%M} UTC{more}[/]")


def why(
    pipeline: Annotated[str, typer.Argument(help="The pipeline (name, or name@account).")],
    account: Account = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="How many recent evaluations to show.")
    ] = 10,
    period: PeriodOption = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until", help="With --period: judge its state at this ISO time [default: now]."
        ),
    ] = None,
    as_json: AsJson = False,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
) -> None:
    from dpc.observe.aws import AwsOptions, aws_errors
    from dpc.observe.central import Central
    from dpc.observe.views import deciding, headline, period_headline, why_report

    name, account = _pipeline_argument(pipeline, account)
    assert name is not None
    now = datetime.now(UTC) if until is None else instant(until, datetime.now(UTC), "--until")
    with err.status("Reading the evaluation records…"), aws_errors():
        central = Central.connect(AwsOptions(profile, region, endpoint_url))
        explanation = central.why(name, account, limit, _period(period), now)
    if as_json:
        found = explanation.evaluations
        status = explanation.status
        data = {
            "pipeline": explanation.child.name,
            "account": explanation.child.account,
            "period": explanation.period,
            "summary": (
                period_headline(explanation.child, explanation.period, found)
                if found and explanation.period
                else headline(explanation.child, deciding(found))
                if found
                else None
            ),
            "status": (
                {"state": status.state, "detail": status.told_at(now)}
                if status is not None
                else None
            ),
            "evaluations": [e.to_json() for e in explanation.evaluations],
        }
        out.print_json(json.dumps(data))
        return
    _print_unsqueezed(why_report(explanation))


STATUS_HELP = (
    "The organization for one period: each registered pipeline done, running, failed, late "
    "(past its expect.by, or its parents' deadline plus its typical run time) or waiting "
    "(and on which parent), the failures first. Exit code 0 when every pipeline is done, 1 "
    "otherwise, so a monitoring job can call it."
)
STATUS_EPILOG = """Examples:

  dpc status                          # yesterday (UTC)

  dpc status --period 2026-11-28 --account 333333333333

  dpc status --period 2026-11-28T05 --json
"""


def status(
    period: Annotated[
        str | None,
        typer.Option(
            "--period",
            help="The period: 2026-11-28 (day), 2026-11-28T05 (hour), 2026-W48, 2026-11. "
            "Default: yesterday (UTC).",
            show_default=False,
        ),
    ] = None,
    account: Account = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="Judge lateness at this ISO time [default: now]."),
    ] = None,
    as_json: AsJson = False,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
) -> None:
    from datetime import timedelta

    from dpc.observe.aws import AwsOptions, aws_errors
    from dpc.observe.central import Central
    from dpc.observe.status import all_done
    from dpc.observe.views import status_table
    from dpc.triggers.periods import period_containing

    now = datetime.now(UTC) if until is None else instant(until, datetime.now(UTC), "--until")
    wanted = (
        _period_of(period)
        if period is not None
        else period_containing("day", now - timedelta(days=1))
    )
    with err.status("Reading the registry and the run log…"), aws_errors():
        central = Central.connect(AwsOptions(profile, region, endpoint_url))
        found = central.status(wanted, now, account)
    if as_json:
        out.print_json(
            json.dumps({"period": str(wanted), "pipelines": [s.to_json() for s in found]})
        )
    elif not found:
        err.print("no registered pipeline" + (f" in account {account}" if account else ""))
    else:
        _print_unsqueezed(status_table(str(wanted), found))
    if not all_done(found):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command(
        "status",
        help=STATUS_HELP,
        short_help="Each pipeline done, running, failed or waiting, e.g. dpc status",
        epilog=STATUS_EPILOG,
    )(status)
    app.command(
        "runs",
        help=RUNS_HELP,
        short_help="The central run log, newest first, e.g. dpc runs pipeline-x --since 2d",
        epilog=RUNS_EPILOG,
    )(runs)
    app.command(
        "why",
        help=WHY_HELP,
        short_help="Why a pipeline did or didn't run, e.g. dpc why pipeline-x",
        epilog=WHY_EPILOG,
    )(why)
    app.command(
        "graph",
        help=GRAPH_HELP,
        short_help="Dependency graph by account, e.g. dpc graph samples/case-study -o org.html",
        epilog=GRAPH_EPILOG,
    )(graph)
