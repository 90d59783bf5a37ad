"""`dpc demo` and `dpc sandbox run`: the real system on the embedded AWS, no account needed.

Both deploy with dpc's own deploy code into an in-process moto holding several accounts,
run a virtual clock, and print what happened as a timeline (stdout; ``--json`` for one
JSON object a line). Progress goes to stderr.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from dpc.errors import UsageError

DEMO_HELP = (
    "The case study end to end on the embedded AWS: two days of listings (account A), "
    "searches (B) and pipeline-x (C), triggered through the central account.\n\n"
    "Day 1: listings (03:00) and searches (05:00) succeed, so pipeline-x starts once. "
    "Day 2: searches fails, pipeline-x does not start and the failure alert reaches the "
    "outbox; the searches team reruns it, it succeeds, and pipeline-x starts once, with no "
    "manual restart. Every step comes from the deployed rules, handlers and state machines."
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


def _show_closing(closing: object) -> None:
    """What `dpc runs` and `dpc why` print, as a user asking at those moments would see it."""
    from dpc.cli.console import out
    from dpc.cli.observe import _print_unsqueezed
    from dpc.observe.views import clock, runs_table, why_report
    from dpc.sandbox.observed import Closing

    assert isinstance(closing, Closing)
    runs, why = closing.runs, closing.why
    out.print(f"\n[bold]── {clock(runs.now)}: dpc runs --since 2d ──[/]")
    _print_unsqueezed(runs_table(runs.runs, runs.now))
    out.print(
        f"\n[bold]── {clock(why.now)}, before searches was rerun: "
        f"dpc why pipeline-x --limit {why.limit} ──[/]"
    )
    _print_unsqueezed(why_report(why.explanation))


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
        timings: Annotated[
            bool, typer.Option("--timings", help="Print the synth / deploy / run wall times.")
        ] = False,
        keep: Annotated[
            Path | None,
            typer.Option("--keep", help="Keep the work folder (step logs, data) here."),
        ] = None,
    ) -> None:
        from dpc.sandbox.story import run_demo

        with _progress() as progress:
            result = run_demo(work_dir=keep, progress=progress)
        _show(result, as_json=as_json, timings=timings)

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
        timings: Annotated[
            bool, typer.Option("--timings", help="Print the synth / deploy / run wall times.")
        ] = False,
        keep: Annotated[
            Path | None,
            typer.Option("--keep", help="Keep the work folder (step logs, data) here."),
        ] = None,
    ) -> None:
        from dpc.sandbox.story import run_days

        if not org_dir.is_dir():
            raise UsageError(f"{org_dir}: not a folder")
        failures = _failures(fail)
        with _progress() as progress:
            result = run_days(
                org_dir, days=days, failures=failures, work_dir=keep, progress=progress
            )
        _show(result, as_json=as_json, timings=timings)

    app.add_typer(sandbox_app)


@contextmanager
def _progress() -> Iterator[Callable[[str], None]]:
    """A spinner on stderr naming the current phase (only on a terminal)."""
    from dpc.cli.console import err

    with err.status("starting the embedded AWS") as status:
        yield status.update
