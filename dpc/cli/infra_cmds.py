"""`dpc synth`, `deploy`, `destroy`, `setup-central-account`, `setup-user-account`.

Thin: pipelines come from dpc.spec.loader (an invalid pipeline stops here, before any AWS
call), templates from dpc.infra.app, deployment from dpc.infra.deploy. aws_cdk and boto3
are imported inside the commands so `dpc --help` stays fast.

AWS options follow the AWS CLI: ``--profile``, ``--region``, the ``AWS_*`` variables and
``AWS_ENDPOINT_URL`` (which is all it takes to deploy into `dpc sandbox up`: the sandbox's
endpoint meets these commands as AWS does).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dpc.errors import DpcError, UsageError

if TYPE_CHECKING:
    from dpc.infra.app import Synthesis
    from dpc.infra.deploy import DeployService, StackEvent, StackResult
    from dpc.spec.model import Pipeline

ACCOUNT_ID = re.compile(r"\d{12}")
S3_ZIP = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S+\.zip")
ORG_ID = re.compile(r"o-[a-z0-9]{10,32}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

ProjectArg = Annotated[
    Path,
    typer.Argument(help="Project folder (or its pipeline.yaml) [default: .]", show_default=False),
]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="Folder for the CloudFormation templates and assets."),
]
DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="Synthesize and show what would be created; no AWS call."),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
ProfileOption = Annotated[
    str | None, typer.Option("--profile", help="AWS profile (as the AWS CLI's --profile).")
]
RegionOption = Annotated[
    str | None,
    typer.Option("--region", help="AWS region (default: from the profile or AWS_REGION)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
OperatorEmailOption = Annotated[
    str | None,
    typer.Option(
        "--operator-email",
        help="E-mail address subscribed to this account's dpc-operator topic, which every dpc "
        "alarm (dead-letter queues, function errors, undelivered events) notifies.",
    ),
]

HELP = {
    "synth": (
        "Write the CloudFormation templates of one or more pipelines; no AWS needed.\n\n"
        "A pipeline without `account` gets the deploying account (AWS::AccountId). cdk-nag "
        "(AwsSolutions) checks every stack; an unacknowledged finding is an error."
    ),
    "deploy": (
        "Validate, synthesize, publish assets and deploy one pipeline, with live progress.\n\n"
        "Needs `dpc setup-user-account` once in the account. On a rollback the failing "
        "resource and CloudFormation's reason are shown and the exit code is 1. "
        "--dry-run makes no AWS call: it writes the templates and lists what would be created."
    ),
    "destroy": (
        "Delete a pipeline's stack: its state machine, rules and registration.\n\n"
        "Logs in the artifacts bucket and the central tables are kept; the central registry "
        "forgets the pipeline."
    ),
    "setup-central-account": (
        "Deploy the central account: central bus, trigger manager, registry, APIs.\n\n"
        "Run once by the data-platform team. Each listed account also gets a route rule that "
        "forwards its trigger events to its pipeline bus; --org-id needs --accounts too, "
        "as only listed accounts can have their events routed."
    ),
    "setup-user-account": (
        "Deploy a team's account: pipeline bus, export rule, artifacts bucket, EMR roles.\n\n"
        "Run once per account, after setup-central-account (whose outputs give the API URLs)."
    ),
}

SHORT_HELP = {
    "synth": "CloudFormation templates, no AWS needed, e.g. dpc synth samples/case-study/listings",
    "deploy": "Deploy a pipeline, e.g. dpc deploy --dry-run samples/case-study/listings",
    "destroy": "Delete a pipeline's stack, e.g. dpc destroy samples/case-study/listings",
    "setup-central-account": "Deploy the central account, "
    "e.g. dpc setup-central-account --accounts 111111111111,222222222222",
    "setup-user-account": "Deploy a team's account, "
    "e.g. dpc setup-user-account --central-account 999999999999",
}
"""One line each for `dpc --help`, with an example."""

EPILOG = {
    "synth": "Examples:\n\n  dpc synth samples/case-study/listings -o out/\n\n"
    "  dpc synth samples/case-study/* --json",
    "deploy": "Examples:\n\n  dpc deploy --dry-run samples/case-study/listings -o out/\n\n"
    "  dpc deploy samples/case-study/listings --profile team-a --yes",
    "destroy": "Example:\n\n  dpc destroy samples/case-study/listings --yes",
    "setup-central-account": "Examples:\n\n"
    "  dpc setup-central-account --accounts 111111111111,222222222222 --dry-run -o out/\n\n"
    "  dpc setup-central-account --org-id o-a1b2c3d4e5 --accounts 111111111111 --yes",
    "setup-user-account": "Example:\n\n  dpc setup-user-account --central-account 999999999999 "
    "--api-url https://abc.execute-api.eu-west-1.amazonaws.com/v1/ --yes",
}


# -- helpers --------------------------------------------------------------------------------


def _load(project: Path) -> Pipeline:
    from dpc.spec.loader import load_pipeline

    return load_pipeline(project)


def _synth(
    build: Callable[..., Synthesis], out: Path | None, *args: Any, **kwargs: Any
) -> Synthesis:
    """Synthesize into ``out`` (emptied first: stale assets would be published) or a
    temporary folder."""
    from dpc.cli.console import err

    if out is not None:
        if (out / "manifest.json").exists():
            shutil.rmtree(out)
        out.mkdir(parents=True, exist_ok=True)
    directory = out or Path(tempfile.mkdtemp(prefix="dpc-synth-"))
    with err.status("Synthesizing CloudFormation templates (cdk-nag checks included)…"):
        synthesis: Synthesis = build(directory, *args, **kwargs)
    return synthesis


def _resources(synthesis: Synthesis) -> list[tuple[str, str, str]]:
    rows = []
    for stack in synthesis.stacks:
        template = json.loads(stack.template_file.read_text())
        for logical_id, resource in template.get("Resources", {}).items():
            rows.append((stack.name, resource["Type"], logical_id))
    return rows


def _show_plan(synthesis: Synthesis, as_json: bool, *, written: bool) -> None:
    from rich.table import Table

    from dpc.cli.console import err, out

    rows = _resources(synthesis)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "stacks": [
                        {
                            "name": s.name,
                            "template": str(s.template_file),
                            "resources": [
                                {"type": kind, "logicalId": logical_id}
                                for stack, kind, logical_id in rows
                                if stack == s.name
                            ],
                        }
                        for s in synthesis.stacks
                    ]
                },
                indent=2,
            )
        )
        return
    for stack in synthesis.stacks:
        table = Table(title=f"{stack.name}: would be created", title_justify="left")
        table.add_column("Resource type", overflow="fold")
        table.add_column("Logical id", overflow="fold")
        for name, kind, logical_id in rows:
            if name == stack.name:
                table.add_row(kind, logical_id)
        out.print(table)
        out.print(f"template: {stack.template_file}", markup=False)
    if written:
        err.print(
            f"[green]{len(rows)} resources in {len(synthesis.stacks)} stack(s); templates in "
            f"{synthesis.directory}. Nothing was deployed and no AWS call was made.[/]"
        )


def _service(profile: str | None, region: str | None) -> DeployService:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from dpc.infra.deploy import DeployService

    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except BotoCoreError as error:
        raise DpcError(f"AWS configuration: {error}") from None
    service = DeployService(
        session=session,
        region=region or session.region_name,
        on_event=_EventPrinter(),
    )
    try:
        service.account  # noqa: B018 (fails fast on missing credentials)
    except (BotoCoreError, ClientError) as error:
        raise DpcError(f"cannot reach AWS with these credentials: {error}") from None
    return service


def _confirm(question: str, yes: bool) -> None:
    import sys

    if yes or not sys.stdin.isatty():
        return
    if not typer.confirm(question, default=False, err=True):
        raise typer.Exit(1)


class _EventPrinter:
    """Stack events as they happen: one coloured line each, on stderr."""

    COLOURS = (("_FAILED", "red"), ("ROLLBACK", "red"), ("_COMPLETE", "green"))

    def __call__(self, event: StackEvent) -> None:
        from rich.markup import escape

        from dpc.cli.console import err

        colour = next((c for marker, c in self.COLOURS if marker in event.status), "yellow")
        reason = f"  {escape(event.reason)}" if event.reason else ""
        err.print(
            f"{event.timestamp:%H:%M:%S}  [{colour}]{event.status:<20}[/]  "
            f"{escape(event.resource_type):<36} {escape(event.logical_id)}{reason}"
        )


def _deploy(service: DeployService, synthesis: Synthesis, as_json: bool) -> list[StackResult]:
    from dpc.cli.console import err, out
    from dpc.infra.deploy import deploy_assembly

    err.print(
        f"Deploying {', '.join(s.name for s in synthesis.stacks)} to account "
        f"{service.account}, region {service.region}"
    )
    with err.status("Publishing assets and waiting for CloudFormation…"):
        results = deploy_assembly(service, synthesis.directory)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {"stack": r.stack_name, "status": r.status, "outputs": dict(r.outputs)}
                    for r in results
                ],
                indent=2,
            )
        )
        return results
    for result in results:
        state = "no changes" if not result.changed else result.status
        err.print(f"[green]✓ {result.stack_name}: {state}[/]")
        for key, value in result.outputs.items():
            out.print(f"{result.stack_name}.{key} = {value}", markup=False)
    return results


def _accounts(text: str | None) -> list[str]:
    if not text:
        return []
    accounts = [a.strip() for a in text.split(",") if a.strip()]
    bad = [a for a in accounts if not ACCOUNT_ID.fullmatch(a)]
    if bad:
        raise UsageError(f"--accounts: {', '.join(bad)} is not a 12-digit AWS account id")
    return accounts


# -- commands -------------------------------------------------------------------------------


def synth(
    projects: Annotated[
        list[Path] | None,
        typer.Argument(help="Project folders [default: .]", show_default=False),
    ] = None,
    out: OutOption = Path("cdk.out"),
    as_json: JsonOption = False,
) -> None:
    """Write the CloudFormation templates of one or more pipelines; no AWS needed."""
    from dpc.infra.app import synth_pipelines

    pipelines = [_load(p) for p in projects or [Path(".")]]
    synthesis = _synth(lambda directory: synth_pipelines(pipelines, directory), out)
    _show_plan(synthesis, as_json, written=True)


def deploy(
    project: ProjectArg = Path("."),
    dry_run: DryRunOption = False,
    out: OutOption = None,
    yes: YesOption = False,
    profile: ProfileOption = None,
    region: RegionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate, synthesize, publish assets and deploy one pipeline, with live progress."""
    from dpc.infra.app import synth_pipelines

    pipeline = _load(project)
    if dry_run:
        synthesis = _synth(
            lambda directory: synth_pipelines([pipeline], directory), out or Path("cdk.out")
        )
        _show_plan(synthesis, as_json, written=True)
        return
    service = _service(profile, region)
    if pipeline.account is not None and pipeline.account != service.account:
        raise DpcError(
            f"{pipeline.source}: pipeline {pipeline.name} belongs to account "
            f"{pipeline.account}, but the credentials are for account {service.account}"
        )
    pipeline = pipeline.with_account(service.account)
    synthesis = _synth(lambda directory: synth_pipelines([pipeline], directory), out)
    _confirm(f"Deploy pipeline {pipeline.name} to account {service.account}?", yes)
    _deploy(service, synthesis, as_json)


def destroy(
    project: ProjectArg = Path("."),
    yes: YesOption = False,
    profile: ProfileOption = None,
    region: RegionOption = None,
) -> None:
    """Delete a pipeline's stack: its state machine, rules and registration."""
    from dpc.cli.console import err
    from dpc.infra.pipeline import pipeline_stack_name

    pipeline = _load(project)
    service = _service(profile, region)
    stack_name = pipeline_stack_name(pipeline.name)
    _confirm(f"Delete stack {stack_name} in account {service.account}?", yes)
    with err.status(f"Deleting {stack_name}…"):
        result = service.destroy(stack_name)
    err.print(f"[green]✓ {result.stack_name}: {result.status}[/]")


def _slack_channel_owners(options: list[str] | None) -> dict[str, list[str]]:
    """``--slack-channel CHANNEL=ACCOUNT[,ACCOUNT]`` (repeatable) → channel → accounts."""
    from dpc.lambdas.apigw import ApiError
    from dpc.lambdas.slack_channels import channel_name

    owners: dict[str, list[str]] = {}
    for option in options or []:
        channel, _, listed = option.partition("=")
        channel = channel.strip().removeprefix("#")
        accounts = [a.strip() for a in listed.split(",") if a.strip()]
        if not channel or not accounts:
            raise UsageError(
                f"--slack-channel: {option} is not CHANNEL=ACCOUNT[,ACCOUNT] "
                "(e.g. --slack-channel data-alerts=111111111111,222222222222)"
            )
        bad = [a for a in accounts if not ACCOUNT_ID.fullmatch(a)]
        if bad:
            raise UsageError(f"--slack-channel: {', '.join(bad)} is not a 12-digit AWS account id")
        try:
            name = channel_name(channel)
        except ApiError as error:
            raise UsageError(f"--slack-channel: {error}") from None
        if name in owners:
            raise UsageError(f"--slack-channel: {channel} is given twice; list its accounts once")
        owners[name] = accounts
    return owners


def _operator_email(address: str | None) -> str | None:
    if address is not None and not EMAIL.fullmatch(address):
        raise UsageError(f"--operator-email: {address} is not an e-mail address")
    return address


def setup_central_account(
    accounts: Annotated[
        str | None,
        typer.Option("--accounts", help="Comma-separated user account ids admitted and routed."),
    ] = None,
    org_id: Annotated[
        str | None,
        typer.Option(
            "--org-id",
            help="AWS Organization id (o-...) admitted to the central bus; needs --accounts.",
        ),
    ] = None,
    operator_email: OperatorEmailOption = None,
    slack_channel: Annotated[
        list[str] | None,
        typer.Option(
            "--slack-channel",
            metavar="CHANNEL=ACCOUNT[,ACCOUNT]",
            help="Reserve a Slack channel for these accounts (repeatable). Without it a channel "
            "belongs to the first account whose pipeline registers it.",
        ),
    ] = None,
    dry_run: DryRunOption = False,
    out: OutOption = None,
    yes: YesOption = False,
    profile: ProfileOption = None,
    region: RegionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Deploy the central account: central bus, trigger manager, registry, APIs."""
    from dpc.infra.app import synth_central

    user_accounts = _accounts(accounts)
    if org_id is not None and not ORG_ID.fullmatch(org_id):
        raise UsageError(f"--org-id: {org_id} is not an AWS Organization id (o-...)")
    if not user_accounts and not org_id:
        raise UsageError("give --accounts ID,... (and optionally --org-id o-...)")
    if not user_accounts:
        # Admitting the org without routes would drop every trigger event, silently.
        raise UsageError(
            "--org-id needs --accounts too: the central bus routes each trigger event to its "
            "account's pipeline bus, and an EventBridge target needs a fixed bus ARN, so list "
            "the accounts to route triggers to (--org-id o-... --accounts ID,...)"
        )
    build_options = {
        "user_accounts": user_accounts,
        "organization_id": org_id,
        "operator_email": _operator_email(operator_email),
        "slack_channel_owners": _slack_channel_owners(slack_channel),
    }
    if dry_run:
        _show_plan(
            _synth(synth_central, out or Path("cdk.out"), **build_options), as_json, written=True
        )
        return
    service = _service(profile, region)
    synthesis = _synth(synth_central, out, **build_options)
    _confirm(f"Deploy the dpc central stack to account {service.account}?", yes)
    results = _deploy(service, synthesis, as_json)
    if not as_json:
        from dpc.cli.console import err
        from dpc.infra import ids

        outputs = results[0].outputs
        err.print(
            "Next, in each user account:\n  dpc setup-user-account --central-account "
            f"{service.account} --api-url {outputs.get(ids.OUTPUT_DEPENDENCY_API_URL, '…')} "
            f"--slack-api-url {outputs.get(ids.OUTPUT_SLACK_API_URL, '…')}",
            markup=False,
        )


def setup_user_account(
    central_account: Annotated[
        str, typer.Option("--central-account", help="The central account's 12-digit id.")
    ],
    api_url: Annotated[
        str,
        typer.Option(
            "--api-url",
            help="DependencyApiUrl output of setup-central-account; required, except with "
            "--dry-run.",
        ),
    ] = "",
    slack_api_url: Annotated[
        str,
        typer.Option(
            "--slack-api-url",
            help="SlackApiUrl output of setup-central-account. Optional: without it Slack "
            "is not configured for this account and its pipelines' Slack targets are skipped.",
        ),
    ] = "",
    operator_email: OperatorEmailOption = None,
    emr_tls_certificates: Annotated[
        str,
        typer.Option(
            "--emr-tls-certificates",
            help="s3://BUCKET/KEY.zip of this account: the PEM bundle (privateKey.pem, "
            "certificateChain.pem, trustedCertificates.pem) EMR encrypts traffic between "
            "nodes with. Default: a self-signed bundle dpc creates once in the assets bucket.",
        ),
    ] = "",
    log_retention_days: Annotated[
        int,
        typer.Option(
            "--log-retention-days",
            min=1,
            help="Days the artifacts bucket keeps EMR step logs and VPC flow logs (logs/).",
        ),
    ] = 90,
    output_retention_days: Annotated[
        int | None,
        typer.Option(
            "--output-retention-days",
            min=1,
            help="Days the artifacts bucket keeps step outputs (pipelines/<name>/). "
            "Default: kept until deleted.",
        ),
    ] = None,
    dry_run: DryRunOption = False,
    out: OutOption = None,
    yes: YesOption = False,
    profile: ProfileOption = None,
    region: RegionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Deploy a team's account: pipeline bus, export rule, artifacts bucket, EMR roles."""
    from dpc.infra.app import synth_user_account

    if not ACCOUNT_ID.fullmatch(central_account):
        raise UsageError(f"--central-account: {central_account} is not a 12-digit account id")
    if not api_url and not dry_run:
        # Without it the registration provider fails only at the team's first `dpc deploy`.
        raise UsageError(
            "--api-url is required: the central dependency API's URL (DependencyApiUrl); "
            "`dpc setup-central-account` prints the filled-in setup-user-account command"
        )
    if emr_tls_certificates and not S3_ZIP.fullmatch(emr_tls_certificates):
        raise UsageError(
            f"--emr-tls-certificates: {emr_tls_certificates} is not s3://BUCKET/KEY.zip"
        )
    build_options = {
        "central_account": central_account,
        "api_url": api_url,
        "slack_api_url": slack_api_url,
        "operator_email": _operator_email(operator_email),
        "emr_tls_certificates": emr_tls_certificates or None,
        "log_retention_days": log_retention_days,
        "output_retention_days": output_retention_days,
    }
    if dry_run:
        synthesis = _synth(synth_user_account, out or Path("cdk.out"), **build_options)
        _show_plan(synthesis, as_json, written=True)
        return
    service = _service(profile, region)
    synthesis = _synth(synth_user_account, out, **build_options)
    _confirm(f"Deploy the dpc user-account stack to account {service.account}?", yes)
    if not emr_tls_certificates:
        from dpc.infra.emr_tls import ensure_tls_certificates

        ensure_tls_certificates(service)
    _deploy(service, synthesis, as_json)


def register(app: typer.Typer) -> None:
    for name, command in (
        ("synth", synth),
        ("deploy", deploy),
        ("destroy", destroy),
        ("setup-central-account", setup_central_account),
        ("setup-user-account", setup_user_account),
    ):
        app.command(name, help=HELP[name], short_help=SHORT_HELP[name], epilog=EPILOG[name])(
            command
        )
