"""`dpc demo` and `dpc sandbox run`: the real system on the embedded AWS, no account needed.

Both deploy with dpc's own deploy code into an in-process moto holding several accounts,
run a virtual clock, and print what happened as a timeline (stdout; ``--json`` for one
JSON object a line). Progress goes to stderr. `dpc sandbox up` deploys the same way and stays
up, its clock moved by lines on stdin, for `dpc runs` / `dpc why` / the AWS CLI by hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated

import typer

from dpc.errors import UsageError

DEMO_HELP = (
    "The case study end to end on the embedded AWS: three days of listings (account A), "
    "searches (B) and pipeline-x (C, correlate: period), triggered through the central "
    "account.\n\n"
    "Day 1: listings (03:00) and searches (05:00) succeed, so pipeline-x starts once. "
    "Day 2: searches fails, pipeline-x does not start and the failure alert reaches the "
    "outbox; the searches team reruns it, it succeeds, and pipeline-x starts once, with no "
    "manual restart. Day 3: the searches team reruns day 1 with corrected logs, and "
    "pipeline-x reruns for day 1 only. Every step comes from the deployed rules, handlers "
    "and state machines."
)
DEMO_EPILOG = """Examples:

  dpc demo

  dpc demo --json | jq -c 'select(.trigger)'

  dpc demo --timings
"""

RUN_HELP = (
    "Try a folder of projects before deploying: deploy them all into the embedded AWS "
    "(central account 999999999999 plus each pipeline's account), run the virtual clock "
    "for N days from midnight UTC, and print every run, trigger and alert. When ORG_DIR has "
    "upstream/land.sh, it runs at each midnight to land the day's input "
    "(DPC_LANDING_DIR, DPC_RUN_TIME)."
)
RUN_EPILOG = """Examples:

  dpc sandbox run samples/case-study --days 2

  dpc sandbox run samples/fallback --fail nightly-load:1 --json
"""

_FAILURE = re.compile(r"(?P<name>[a-z][a-z0-9-]*)(?::(?P<day>\d+))?")


def _failures(values: list[str] | None) -> tuple[tuple[str, int], ...]:
    parsed = []
    for value in values or []:
        match = _FAILURE.fullmatch(value)
        if match is None:
            raise UsageError(f"--fail {value!r}: expected PIPELINE or PIPELINE:DAY (e.g. load:2)")
        parsed.append((match["name"], int(match["day"] or 1)))
    return tuple(parsed)


def _show(result: object, *, as_json: bool, timings: bool) -> None:
    from dpc.cli.console import err, out
    from dpc.sandbox.story import StoryResult

    assert isinstance(result, StoryResult)
    if as_json:
        for line in result.timeline.json_lines():
            typer.echo(line)
    else:
        result.timeline.render(out, result.names)
        if result.closing is not None:
            _show_closing(result.closing)
    if timings:
        t = result.timings
        console = err if as_json else out
        other = t.total - t.synth - t.deploy - t.run
        console.print(
            f"\ntimings: synth {t.synth:.1f}s, deploy {t.deploy:.1f}s, run {t.run:.1f}s, "
            f"total {t.total:.1f}s (other {other:.1f}s: embedded AWS start/stop, loading)"
        )


def _same_runs(clean: object, chaotic: object, *, as_json: bool) -> bool:
    """Print how the chaos run compares with the clean one; True when the runs are the same."""
    import json
    from collections import Counter

    from dpc.cli.console import out
    from dpc.sandbox.story import StoryResult

    assert isinstance(clean, StoryResult) and isinstance(chaotic, StoryResult)
    assert chaotic.chaos is not None
    same = clean.executed == chaotic.executed
    missing = sorted((Counter(clean.executed) - Counter(chaotic.executed)).elements())
    extra = sorted((Counter(chaotic.executed) - Counter(clean.executed)).elements())
    if as_json:
        summary = {
            "chaos": {
                "seed": chaotic.chaos.seed,
                "faults": dict(chaotic.chaos.counts),
                "executions": len(chaotic.executed),
                "same_runs_as_clean": same,
            }
        }
        typer.echo(json.dumps(summary))
        return same
    out.print(f"\n[bold]── {chaotic.chaos.summary()} ──[/]")
    if same:
        out.print(
            f"[green]the same {len(chaotic.executed)} executions as the clean run[/] "
            "(pipeline, period, status): nothing lost, nothing doubled"
        )
        return True
    out.print(f"[bold red]the runs differ from the clean run[/]: missing {missing}, extra {extra}")
    return False


UP_HELP = (
    "Keep a sandbox running: deploy an org (default: the case study) into the embedded AWS, "
    "print the environment that points the AWS CLI, boto3 and dpc at its central account, "
    "and wait. The virtual clock moves only when told, by lines on stdin: `advance 1d`, "
    "`until 2026-11-28T09:00`, `now`, `quit` (or Ctrl-C). Each is answered with the runs, "
    "triggers and alerts it caused, then the virtual time."
)
UP_EPILOG = """Examples:

  dpc sandbox up            # then paste the export lines into another shell, type: advance 1d

  dpc runs --until 2026-11-28T00:00:00Z; dpc why pipeline-x; dpc graph --central -o org.html

  dpc sandbox up --org samples/fallback --port 5000 --json
"""


def _serve(controlled: object, *, as_json: bool) -> None:
    """Read control lines until ``quit``; at the end of stdin, hold the sandbox up until
    Ctrl-C (a sandbox started in the background keeps serving)."""
    import json
    import sys
    import time

    from dpc.cli.console import err, out
    from dpc.sandbox.timeline import Timeline, iso
    from dpc.sandbox.up import COMMANDS, Controlled

    assert isinstance(controlled, Controlled)
    sandbox = controlled.sandbox
    central = sandbox.server.account_id("central")
    environment = sandbox.server.environment(central)
    others = {
        name: sandbox.server.credentials(account)
        for name, account in sandbox.server.accounts.items()
        if account != central
    }
    if as_json:
        accounts = [
            {
                "name": name,
                "account": creds.account_id,
                "access_key_id": creds.access_key_id,
                "secret_access_key": creds.secret_access_key,
            }
            for name, creds in others.items()
        ]
        typer.echo(
            json.dumps(
                {
                    "environment": environment,
                    "central_account": central,
                    "accounts": accounts,
                    "now": iso(sandbox.now),
                }
            )
        )
    else:
        for name, value in environment.items():
            typer.echo(f"export {name}={value}")
        typer.echo("unset AWS_PROFILE AWS_SESSION_TOKEN")
        err.print(
            f"\n[bold]The embedded AWS is up at {environment['AWS_ENDPOINT_URL']}[/]: the lines "
            f"above point the AWS CLI, boto3 and dpc at its central account {central}.\n"
            "Other accounts: "
            + "; ".join(
                f"{name} {c.account_id} (key {c.access_key_id}, secret {c.secret_access_key})"
                for name, c in others.items()
            )
            + f"\n\nVirtual time {iso(sandbox.now)}: nothing runs until you move the clock. "
            f"Type here:\n{COMMANDS}\nthen, in the other shell: dpc runs --until <virtual time>, "
            "dpc why pipeline-x, dpc graph --central -o org.html"
        )
    sys.stdout.flush()
    while line := sys.stdin.readline():
        if not line.strip():
            continue
        try:
            answer = controlled.handle(line)
        except UsageError as error:
            err.print(f"[red]{error}[/]")
            answer = controlled.handle("now")
        if answer.stop:
            return
        if as_json:
            for entry in Timeline(list(answer.happened)).json_lines():
                typer.echo(entry)
            typer.echo(json.dumps({"now": iso(answer.now)}))
        else:
            Timeline(list(answer.happened)).render(out, controlled.names)
            typer.echo(f"virtual time {iso(answer.now)}  (dpc runs --until {iso(answer.now)})")
        sys.stdout.flush()
    err.print("stdin closed: the sandbox stays up until Ctrl-C")
    while True:
        time.sleep(3600)


@contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """`kill` stops the sandbox as Ctrl-C does: cleanly, exit code 0."""
    import signal

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _show_closing(closing: object) -> None:
    """What `dpc runs`, `dpc why` and `dpc status` print, as a user asking at those moments
    would see it."""
    from dpc.cli.console import out
    from dpc.cli.observe import _print_unsqueezed
    from dpc.observe.views import clock, runs_table, status_table, why_report
    from dpc.sandbox.observed import Closing

    assert isinstance(closing, Closing)
    runs, why, status = closing.runs, closing.why, closing.status
    out.print(f"\n[bold]── {clock(runs.now)}: dpc runs --since 3d ──[/]")
    _print_unsqueezed(runs_table(runs.runs, runs.now))
    out.print(
        f"\n[bold]── {clock(why.now)}, before searches was rerun: "
        f"dpc why pipeline-x --limit {why.limit} ──[/]"
    )
    _print_unsqueezed(why_report(why.explanation))
    out.print(f"\n[bold]── {clock(status.now)}: dpc status --period {status.period} ──[/]")
    _print_unsqueezed(status_table(str(status.period), list(status.pipelines)))


KeepOption = Annotated[
    Path | None, typer.Option("--keep", help="Keep the work folder (step logs, data) here.")
]
TimingsOption = Annotated[
    bool, typer.Option("--timings", help="Print the synth / deploy / run wall times.")
]


def register(app: typer.Typer) -> None:
    sandbox_app = typer.Typer(
        name="sandbox",
        help="The embedded multi-account AWS (moto) that `dpc demo` runs on.",
        short_help="Try your projects on the embedded AWS, e.g. dpc sandbox run samples/fallback",
        no_args_is_help=True,
    )

    @app.command(
        "demo",
        help=DEMO_HELP,
        short_help="The case study end to end on the embedded AWS, e.g. dpc demo --timings",
        epilog=DEMO_EPILOG,
    )
    def demo(
        as_json: Annotated[
            bool, typer.Option("--json", help="One JSON object a line: runs, triggers, alerts.")
        ] = False,
        timings: TimingsOption = False,
        keep: KeepOption = None,
        org_dir: Annotated[
            Path | None,
            typer.Option(
                "--org",
                help="A copy of samples/case-study [default: the clone's, when dpc runs from "
                "a clone of its repository].",
            ),
        ] = None,
        chaos: Annotated[
            int | None,
            typer.Option(
                "--chaos",
                metavar="SEED",
                help="Run the story under AWS's documented faults drawn from SEED (dropped "
                "status events, duplicate and late deliveries, failed invocations, PutEvents "
                "failures), with an operator redriving what is stuck; then check that exactly "
                "the runs of the clean demo happened (exit 1 if not).",
            ),
        ] = None,
    ) -> None:
        from dpc.sandbox.chaos import Chaos
        from dpc.sandbox.story import run_demo

        if org_dir is not None and not org_dir.is_dir():
            raise UsageError(f"--org {org_dir}: not a folder")
        with _progress() as progress:
            clean = None
            if chaos is not None:
                progress("the clean demo first, to compare")
                clean = run_demo(org_dir=org_dir, progress=progress)
            result = run_demo(
                org_dir=org_dir,
                work_dir=keep,
                progress=progress,
                chaos=Chaos(chaos) if chaos is not None else None,
            )
        _show(result, as_json=as_json, timings=timings)
        if clean is not None and not _same_runs(clean, result, as_json=as_json):
            raise typer.Exit(1)

    @sandbox_app.command("run", help=RUN_HELP, epilog=RUN_EPILOG)
    def run(
        org_dir: Annotated[Path, typer.Argument(help="A folder of projects (pipeline.yaml).")],
        days: Annotated[int, typer.Option("--days", min=1, max=31, help="Days to run.")] = 1,
        fail: Annotated[
            list[str] | None,
            typer.Option(
                "--fail",
                help="What-if fault injection: PIPELINE[:DAY]'s first step that day (default "
                "1) is reported failed without running, to see who waits and who is alerted. "
                "Repeatable.",
            ),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
        timings: TimingsOption = False,
        keep: KeepOption = None,
        chaos: Annotated[
            int | None,
            typer.Option(
                "--chaos",
                metavar="SEED",
                help="Run under AWS's documented faults drawn from SEED, after a clean run, "
                "and compare: exit 1 unless every (pipeline, period, status) run is the same.",
            ),
        ] = None,
    ) -> None:
        from dpc.sandbox.chaos import Chaos
        from dpc.sandbox.story import run_days

        if not org_dir.is_dir():
            raise UsageError(f"{org_dir}: not a folder")
        failures = _failures(fail)
        with _progress() as progress:
            clean = None
            if chaos is not None:
                progress("the clean run first, to compare")
                clean = run_days(org_dir, days=days, failures=failures, progress=progress)
            result = run_days(
                org_dir,
                days=days,
                failures=failures,
                work_dir=keep,
                progress=progress,
                chaos=Chaos(chaos) if chaos is not None else None,
            )
        _show(result, as_json=as_json, timings=timings)
        if clean is not None and not _same_runs(clean, result, as_json=as_json):
            raise typer.Exit(1)

    @sandbox_app.command(
        "up",
        help=UP_HELP,
        short_help="Keep a sandbox up to try dpc runs / why by hand, e.g. dpc sandbox up",
        epilog=UP_EPILOG,
    )
    def up(
        org_dir: Annotated[
            Path | None,
            typer.Option("--org", help="A folder of projects to deploy [default: the case study]."),
        ] = None,
        port: Annotated[
            int,
            typer.Option(
                "--port", min=0, max=65535, help="Serve on this port [default: a free one]."
            ),
        ] = 0,
        as_json: Annotated[
            bool, typer.Option("--json", help="The environment and every answer as JSON lines.")
        ] = False,
        keep: KeepOption = None,
    ) -> None:
        from dpc.sandbox.up import sandbox_up

        if org_dir is not None and not org_dir.is_dir():
            raise UsageError(f"--org {org_dir}: not a folder")
        with _stop_on_sigterm(), ExitStack() as stack:
            try:
                with _progress() as progress:
                    opened = sandbox_up(org_dir, port=port, work_dir=keep, progress=progress)
                    controlled = stack.enter_context(opened)
                _serve(controlled, as_json=as_json)
            except KeyboardInterrupt:
                pass

    app.add_typer(sandbox_app)


@contextmanager
def _progress() -> Iterator[Callable[[str], None]]:
    """A spinner on stderr naming the current phase (only on a terminal)."""
    from dpc.cli.console import err

    with err.status("starting the embedded AWS") as status:
        yield status.update
