"""`dpc doctor` and `dpc redrive`: what is stuck in an account, and replaying it.

Thin: the checks live in dpc.operate.doctor, the replays in dpc.operate.redrive; both run on
the account the credentials point at (a user account, or the central one with --central).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from dpc.cli.console import err, out
from dpc.cli.observe import EndpointUrl, Region
from dpc.errors import DpcError, UsageError

if TYPE_CHECKING:
    from dpc.operate.doctor import Diagnosis

Profile = Annotated[str | None, typer.Option("--profile", help="AWS named profile.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]

DOCTOR_EPILOG = """Examples:

  dpc doctor --profile team-a                  # a user account: dead letters, alarms

  dpc doctor --central --json                  # the central account, as JSON
"""
REDRIVE_EPILOG = """Examples:

  dpc redrive --all --dry-run                  # what would be replayed, from every dpc DLQ

  dpc redrive dpc-status-sweeper-dlq           # replay one queue (name or URL)
"""


def doctor(
    central: Annotated[
        bool, typer.Option("--central", help="Also run the central account's own checks.")
    ] = False,
    as_json: AsJson = False,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
) -> None:
    from dpc.observe.aws import AwsOptions, aws_errors
    from dpc.operate.doctor import central_checks, diagnose

    aws = AwsOptions(profile, region, endpoint_url)
    with aws_errors():
        account = aws.client("sts").get_caller_identity()["Account"]
        checks = central_checks(aws.client) if central else []
        diagnosis = diagnose(aws.client("sqs"), aws.client("cloudwatch"), account, checks)
    if as_json:
        out.print_json(json.dumps(diagnosis.to_json()))
    else:
        _print_diagnosis(diagnosis)
    if diagnosis.stuck:
        raise typer.Exit(1)


def _print_diagnosis(diagnosis: Diagnosis) -> None:
    from rich.markup import escape

    if not diagnosis.stuck:
        err.print(f"account {diagnosis.account}: nothing stuck")
        return
    err.print(f"account {diagnosis.account}:")
    for queue in diagnosis.queues:
        in_flight = f", {queue.in_flight} being handled" if queue.in_flight else ""
        err.print(f"[bold]{queue.name}[/]: {queue.messages} message(s){in_flight}")
        for sample in queue.samples:
            err.print(f"  {escape(sample.what)} → {escape(sample.target or '?')}")
            if sample.error:
                err.print(f"    error: {escape(sample.error)}")
    for alarm in diagnosis.alarms:
        err.print(
            f"[bold]alarm {alarm.name}[/] in ALARM since {alarm.since}: {escape(alarm.reason)}"
        )
    for finding in diagnosis.central:
        hint = f" ({escape(finding.hint)})" if finding.hint else ""
        err.print(f"[bold]{finding.check}[/]: {escape(finding.what)}{hint}")
    if diagnosis.queues:
        err.print("[dim]replay dead letters with: dpc redrive --all (or dpc redrive QUEUE)[/]")


def redrive(
    queue: Annotated[
        str | None,
        typer.Argument(help="A dpc dead-letter queue (name or URL).", show_default=False),
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Every dpc dead-letter queue.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be replayed; change nothing.")
    ] = False,
    as_json: AsJson = False,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
) -> None:
    from dpc.observe.aws import AwsOptions, aws_errors
    from dpc.operate.dead_letters import dead_letter_queue_urls
    from dpc.operate.redrive import Redriver, queue_url

    if (queue is None) == (not every):
        raise UsageError("name one QUEUE, or pass --all (not both)")
    aws = AwsOptions(profile, region, endpoint_url)
    with aws_errors():
        sqs = aws.client("sqs")
        urls = dead_letter_queue_urls(sqs) if every else [queue_url(sqs, str(queue))]
        redriver = Redriver(sqs, aws.client("lambda"), aws.client("events"))
        replays = [r for url in urls for r in redriver.redrive(url, dry_run=dry_run)]
    if as_json:
        out.print_json(
            json.dumps(
                [
                    {
                        "queue": r.queue,
                        "messageId": r.letter.message_id,
                        "kind": r.letter.kind,
                        "what": r.letter.summary,
                        "target": r.letter.target,
                        "outcome": r.outcome,
                    }
                    for r in replays
                ]
            )
        )
    else:
        from rich.markup import escape

        for r in replays:
            err.print(
                f"{r.queue}: {escape(r.letter.summary)} → {escape(r.letter.target or '?')}: "
                f"{escape(r.outcome)}"
            )
        if not replays:
            err.print("nothing to replay")
    failed = [r for r in replays if not r.ok]
    if failed:
        raise DpcError(f"{len(failed)} of {len(replays)} message(s) not replayed (still queued)")


def register(app: typer.Typer) -> None:
    app.command(
        "doctor",
        help="List what is stuck in the account: messages in dpc's dead-letter queues (with "
        "a sample of each), dpc alarms in ALARM; --central adds the central account's checks. "
        "Exit code 1 when anything is stuck.",
        short_help="What is stuck: dead letters, alarms, e.g. dpc doctor --json",
        epilog=DOCTOR_EPILOG,
    )(doctor)
    app.command(
        "redrive",
        help="Replay the messages of a dpc dead-letter queue (or --all) to where they were "
        "going, deleting each only once its replay was accepted. Safe to repeat: dpc starts "
        "and trigger decisions are idempotent.",
        short_help="Replay dead letters, e.g. dpc redrive --all --dry-run",
        epilog=REDRIVE_EPILOG,
    )(redrive)
