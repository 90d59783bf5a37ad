"""Synthesis: a CDK app per command, no CDK bootstrap, cdk-nag on every stack.

Stacks use ``CliCredentialsStackSynthesizer`` pointed at dpc's own assets bucket
(``dpc-assets-<account>-<region>``), which ``dpc.infra.deploy`` creates if missing before it
publishes the assets. There is no bootstrap stack, no bootstrap-version rule and no
deployment role: CloudFormation runs with the caller's credentials, as with the AWS CLI.

Stacks are environment-agnostic (account and region are ``AWS::AccountId`` /
``AWS::Region``), so one template deploys to any region and synthesis needs no AWS call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk

from dpc.errors import DpcError
from dpc.infra import ids
from dpc.infra.central import CentralStack
from dpc.infra.nag import apply_nag, findings_from_report
from dpc.infra.pipeline import PipelineStack
from dpc.infra.user import UserAccountStack
from dpc.spec.model import Pipeline


@dataclass(frozen=True)
class SynthesizedStack:
    name: str
    template_file: Path


@dataclass(frozen=True)
class Synthesis:
    """A cloud assembly on disk, as dpc.infra.deploy consumes it."""

    directory: Path
    stacks: tuple[SynthesizedStack, ...]


def synthesizer() -> cdk.IReusableStackSynthesizer:
    return cdk.CliCredentialsStackSynthesizer(
        file_assets_bucket_name=ids.ASSETS_BUCKET_NAME, bucket_prefix=ids.ASSETS_PREFIX
    )


def new_app(outdir: Path) -> cdk.App:
    """An app whose stacks publish to the dpc assets bucket and are checked by cdk-nag."""
    app = cdk.App(
        outdir=str(outdir),
        analytics_reporting=False,
        default_stack_synthesizer=synthesizer(),
        # S3 delivers server access logs by a bucket policy, not the legacy log-delivery
        # ACL (which needs ACLs enabled on the log bucket).
        context={"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True},
    )
    apply_nag(app)
    return app


class NagFindings(DpcError):
    """cdk-nag found unacknowledged problems: the templates are not safe to deploy."""

    def __init__(self, findings: Sequence[str]) -> None:
        self.findings = tuple(findings)
        listing = "\n  ".join(self.findings)
        super().__init__(f"cdk-nag (AwsSolutions) findings:\n  {listing}")


def synthesize(app: cdk.App) -> Synthesis:
    try:
        assembly = app.synth()
    except RuntimeError as error:
        if "ValidationFailed" not in str(error):
            raise
        raise NagFindings(findings_from_report(app.outdir)) from None
    stacks = tuple(
        SynthesizedStack(
            name=stack.stack_name,
            template_file=Path(assembly.directory, stack.template_file),
        )
        for stack in assembly.stacks
    )
    return Synthesis(directory=Path(assembly.directory), stacks=stacks)


def synth_pipelines(pipelines: Iterable[Pipeline], outdir: Path) -> Synthesis:
    """One stack per pipeline. A pipeline without an account (pipeline.yaml may leave it
    out) gets ``AWS::AccountId``: the account the template is deployed into."""
    app = new_app(outdir)
    for pipeline in pipelines:
        PipelineStack(
            app,
            pipeline=pipeline.with_account(cdk.Aws.ACCOUNT_ID),
            description=f"dpc pipeline {pipeline.name}",
        )
    return synthesize(app)


def synth_central(
    outdir: Path,
    *,
    user_accounts: Sequence[str] = (),
    organization_id: str | None = None,
    operator_email: str | None = None,
    slack_channel_owners: Mapping[str, Sequence[str]] | None = None,
) -> Synthesis:
    app = new_app(outdir)
    CentralStack(
        app,
        user_accounts=user_accounts,
        organization_id=organization_id,
        operator_email=operator_email,
        slack_channel_owners=slack_channel_owners,
        description="dpc central account: central bus, trigger manager, registry",
    )
    return synthesize(app)


def synth_user_account(
    outdir: Path,
    *,
    central_account: str,
    api_url: str = "",
    slack_api_url: str = "",
    operator_email: str | None = None,
    emr_tls_certificates: str | None = None,
    log_retention_days: int = 90,
    output_retention_days: int | None = None,
) -> Synthesis:
    app = new_app(outdir)
    UserAccountStack(
        app,
        central_account=central_account,
        log_retention_days=log_retention_days,
        output_retention_days=output_retention_days,
        operator_email=operator_email,
        emr_tls_certificates=emr_tls_certificates,
        api_url=api_url,
        slack_api_url=slack_api_url,
        description="dpc user account: pipeline bus, export rule, artifacts, EMR plumbing",
    )
    return synthesize(app)
