"""`dpc run`, `dpc rerun`, `dpc backfill`: start a deployed pipeline by hand, for a period.

Thin: the starts live in dpc.operate.starts. PIPELINE is a project folder (or its
pipeline.yaml), whose name, account and period are read from it, or a deployed pipeline's
name in the credentials' account, whose period is read from its state machine's tags.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dpc.cli.console import err, out
from dpc.cli.observe import EndpointUrl, Region
from dpc.errors import DpcError, UsageError

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

    from dpc.observe.aws import AwsOptions
    from dpc.operate.starts import Started, Target

PipelineArg = Annotated[
    str,
    typer.Argument(
        help="Project folder (or its pipeline.yaml), or a deployed pipeline's name.",
        show_default=False,
    ),
]
Profile = Annotated[
    str | None, typer.Option("--profile", help="AWS named profile (the pipeline's account).")
]
NoDownstream = Annotated[
    bool,
    typer.Option(
        "--no-downstream",
        help="Children do not start on these runs (the runs carry propagate: false).",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]

RUN_EPILOG = """Examples:

  dpc run samples/case-study/listings                       # the period of now (+ offset)

  dpc run samples/case-study/listings --period 2026-11-27

  dpc run listings --period 2026-11-27 --profile team-a     # a deployed pipeline, by name
"""
RERUN_EPILOG = """Examples:

  dpc rerun searches-20261127                  # its period again; correlated children too

  dpc rerun s-20261127T0500 --pipeline searches --no-downstream
"""
BACKFILL_EPILOG = """Examples:

  dpc backfill samples/case-study/listings --from 2026-11-01 --to 2026-11-05 --parallel 2

  dpc backfill listings --from 2026-11-01 --to 2026-11-30 --no-downstream --json
"""


def _check_offline(pipeline: str, *periods: str | None) -> None:
    """For a project folder, refuse periods of the wrong unit (and a backfill running
    backwards) before any AWS call, so bad input starts nothing."""
    path = Path(pipeline)
    if not path.exists():
        return
    from dpc.operate.starts import Target
    from dpc.spec.loader import load_pipeline
    from dpc.triggers.periods import PeriodError, periods_between

    spec = load_pipeline(path)
    target = Target(spec.name, spec.account or "", "", spec.period)
    parsed = [target.period_of(text) for text in periods if text is not None]
    if len(parsed) == 2:
        try:
            periods_between(parsed[0], parsed[1])
        except PeriodError as error:
            raise UsageError(f"--from/--to: {error}") from None


def _target(pipeline: str, aws: AwsOptions) -> tuple[SFNClient, Target]:
    """The deployed pipeline PIPELINE names, with its period."""
    from dpc.operate.starts import Target
    from dpc.triggers.periods import UNITS, PeriodSpec

    sfn = aws.client("stepfunctions")
    region = sfn.meta.region_name
    path = Path(pipeline)
    if path.exists():
        from dpc.spec.loader import load_pipeline

        spec = load_pipeline(path)
        account = spec.account or aws.client("sts").get_caller_identity()["Account"]
        return sfn, Target(spec.name, account, region, spec.period)
    account = aws.client("sts").get_caller_identity()["Account"]
    target = Target(pipeline, account, region, PeriodSpec())
    try:
        tags = sfn.list_tags_for_resource(resourceArn=target.state_machine_arn)["tags"]
    except sfn.exceptions.ResourceNotFound:
        raise DpcError(
            f"no project folder '{pipeline}', and no deployed pipeline of that name in account "
            f"{account}: pass the project folder, or check the name and credentials"
        ) from None
    values = {tag["key"]: tag["value"] for tag in tags}
    from dpc.constants import TAG_PERIOD_OFFSET_SECONDS, TAG_PERIOD_UNIT

    unit = values.get(TAG_PERIOD_UNIT, "day")
    if unit not in UNITS:
        raise DpcError(f"{target.state_machine_arn}: tag {TAG_PERIOD_UNIT}={unit} is no unit")
    period = PeriodSpec.from_json(
        {"unit": unit, "offsetSeconds": int(values.get(TAG_PERIOD_OFFSET_SECONDS, "0"))}
    )
    return sfn, Target(pipeline, account, region, period)


def run(
    pipeline: PipelineArg,
    period: Annotated[
        str | None,
        typer.Option("--period", help="The period to process (2026-11-27; default: now + offset)."),
    ] = None,
    as_json: AsJson = False,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
) -> None:
    from dpc.observe.aws import AwsOptions, aws_errors
    from dpc.operate.starts import run_now, utc_now

    _check_offline(pipeline, period)
    with aws_errors():
        sfn, target = _target(pipeline, AwsOptions(profile, region, endpoint_url))
        wanted = target.period_of(period) if period is not None else None
        started = run_now(sfn, target, wanted, utc_now())
    _report([started], target, as_json)


def rerun(
    execution: Annotated[
        str,
        typer.Argument(help="The execution to rerun: its name (as `dpc runs` shows it) or ARN."),
    ],
    pipeline: Annotated[
        str | None,
        typer.Option(
            "--pipeline", help="Its pipeline (folder or name), when the name is not unique."
        ),
    ] = None,
    no_downstream: NoDownstream = False,
    as_json: AsJson = False,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
) -> None:
    from dpc.observe.aws import AwsOptions, aws_errors
    from dpc.operate.starts import rerun as start_rerun
    from dpc.operate.starts import utc_now

    aws = AwsOptions(profile, region, endpoint_url)
    name = execution.rsplit(":", 1)[-1]
    with aws_errors():
        if pipeline is None:
            pipeline = _pipeline_of_execution(execution, aws)
        sfn, target = _target(pipeline, aws)
        started = start_rerun(sfn, target, name, not no_downstream, utc_now())
    _report([started], target, as_json, rerun_of=name)


def _pipeline_of_execution(execution: str, aws: AwsOptions) -> str:
    """The pipeline an execution ARN names, or the one dpc pipeline of the account that has
    an execution of that name."""
    from dpc.constants import STATE_MACHINE_PREFIX

    parts = execution.split(":")
    if len(parts) == 8 and parts[5] == "execution":
        return parts[6].removeprefix(STATE_MACHINE_PREFIX)
    sfn = aws.client("stepfunctions")
    found: list[str] = []
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if not machine["name"].startswith(STATE_MACHINE_PREFIX):
                continue
            arn = machine["stateMachineArn"].replace(":stateMachine:", ":execution:")
            try:
                sfn.describe_execution(executionArn=f"{arn}:{execution}")
            except sfn.exceptions.ExecutionDoesNotExist:
                continue
            found.append(machine["name"].removeprefix(STATE_MACHINE_PREFIX))
    if not found:
        raise DpcError(f"no dpc pipeline in this account has an execution named '{execution}'")
    if len(found) > 1:
        raise UsageError(f"'{execution}' is an execution of {', '.join(found)}: pass --pipeline")
    return found[0]


def backfill(
    pipeline: PipelineArg,
    first: Annotated[str, typer.Option("--from", help="The oldest period (e.g. 2026-11-01).")],
    last: Annotated[str, typer.Option("--to", help="The newest period, included.")],
    parallel: Annotated[
        int, typer.Option("--parallel", min=1, help="At most this many runs at once.")
    ] = 1,
    no_downstream: NoDownstream = False,
    poll: Annotated[
        float, typer.Option("--poll", min=0.0, help="Seconds between status checks.")
    ] = 10.0,
    as_json: AsJson = False,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from dpc.observe.aws import AwsOptions, aws_errors
    from dpc.operate.starts import TERMINAL, Backfill

    _check_offline(pipeline, first, last)
    with aws_errors():
        sfn, target = _target(pipeline, AwsOptions(profile, region, endpoint_url))
        job = Backfill(
            sfn,
            target,
            target.period_of(first),
            target.period_of(last),
            parallel=parallel,
            propagate=not no_downstream,
            poll_seconds=poll,
        )
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err,
            transient=True,
        ) as progress:
            task = progress.add_task(f"backfill {target.name}", total=len(job.periods))

            def show(state: Backfill) -> None:
                done = sum(
                    1
                    for status in state.statuses.values()
                    if status in TERMINAL or status == "STARTED BEFORE"
                )
                running = [s for s in state.statuses.values() if s == "RUNNING"]
                progress.update(
                    task,
                    completed=done,
                    description=f"backfill {target.name} ({len(running)} running)",
                )

            job.on_change = show
            job.run()
    if as_json:
        out.print_json(
            json.dumps(
                [
                    {
                        "period": str(s.period),
                        "execution": s.execution,
                        "started": s.new,
                        "status": job.statuses.get(s.execution),
                    }
                    for s in job.started
                ]
            )
        )
    else:
        for s in job.started:
            how = "" if s.new else " (started by an earlier run of this backfill: skipped)"
            err.print(f"{s.period}  {s.execution}  {job.statuses.get(s.execution)}{how}")
        fresh = sum(1 for s in job.started if s.new)
        err.print(f"[dim]{fresh} started, {len(job.started) - fresh} skipped[/]")
    if job.failed:
        raise DpcError(
            f"{len(job.failed)} of {len(job.started)} periods did not succeed: "
            + ", ".join(str(s.period) for s in job.failed)
        )


def _report(
    started: list[Started], target: Target, as_json: bool, rerun_of: str | None = None
) -> None:
    if as_json:
        out.print_json(
            json.dumps(
                [
                    {
                        "pipeline": target.name,
                        "account": target.account,
                        "period": str(s.period),
                        "execution": s.execution,
                        "rerun_of": rerun_of,
                    }
                    for s in started
                ]
            )
        )
        return
    for s in started:
        what = f"rerun of {rerun_of}" if rerun_of else "run"
        err.print(f"started {target.name} {what} for {s.period}: {s.execution}")


def register(app: typer.Typer) -> None:
    app.command(
        "run",
        help="Start a deployed pipeline now, for a period (its steps see it as DPC_PERIOD).",
        short_help="Start a pipeline now, e.g. dpc run listings --period 2026-11-27",
        epilog=RUN_EPILOG,
    )(run)
    app.command(
        "rerun",
        help="Rerun an execution for its own period; with correlate: period its children "
        "rerun for that period too (unless --no-downstream).",
        short_help="Rerun an execution for its period, e.g. dpc rerun searches-20261127",
        epilog=RERUN_EPILOG,
    )(rerun)
    app.command(
        "backfill",
        help="Run a pipeline once per period from --from to --to, oldest first, at most "
        "--parallel at once. Running the same backfill again starts nothing for a period it "
        "already started.",
        short_help="One run per period, e.g. dpc backfill listings --from 2026-11-01 --to "
        "2026-11-05",
        epilog=BACKFILL_EPILOG,
    )(backfill)
