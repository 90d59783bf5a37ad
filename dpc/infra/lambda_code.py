"""The Lambda code asset and the one way dpc builds a Lambda function.

The asset is a staged copy of only what the handlers import (``dpc/lambdas``,
``dpc/triggers``, ``dpc/schemas`` — the APIs check names with the schema's own rules —,
``dpc/constants.py``, ``dpc/errors.py``, ``dpc/naming.py`` and a package marker), not the whole
``dpc`` distribution: the CLI, the CDK code and the sandbox never reach Lambda, and the
asset hash changes only when handler code does. aws-lambda-powertools comes from the
AWS-managed layer, boto3 from the runtime, so the asset needs no pip install.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from aws_cdk import Aws, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

import dpc
from dpc.infra.nag import suppress

RUNTIME = lambda_.Runtime.PYTHON_3_12
POWERTOOLS_LAYER_ARN = (
    f"arn:{Aws.PARTITION}:lambda:{Aws.REGION}:017000801446:layer:"
    "AWSLambdaPowertoolsPythonV3-python312-x86_64:27"
)
"""The AWS-managed Powertools layer (account 017000801446 publishes it in every region)."""

_PACKAGE_ROOT = Path(dpc.__file__).parent
_STAGED_PACKAGES = ("lambdas", "triggers", "schemas")
_STAGED_MODULES = ("__init__.py", "constants.py", "errors.py", "naming.py")


@cache
def staged_lambda_source() -> Path:
    """Copy the handler code once per process into a folder laid out as the Lambda sees it."""
    root = Path(tempfile.mkdtemp(prefix="dpc-lambda-src-"))
    target = root / "dpc"
    target.mkdir()
    for package in _STAGED_PACKAGES:
        shutil.copytree(
            _PACKAGE_ROOT / package,
            target / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    for module in _STAGED_MODULES:
        shutil.copy2(_PACKAGE_ROOT / module, target / module)
    return root


def dpc_function(
    scope: Construct,
    construct_id: str,
    *,
    handler: str,
    description: str,
    environment: Mapping[str, str] | None = None,
    timeout: Duration | None = None,
) -> lambda_.Function:
    """A dpc handler as a Lambda: Python 3.12, Powertools layer, X-Ray, bounded log retention.

    Its role is written out rather than AWSLambdaBasicExecutionRole, whose ``logs:*`` grant
    covers every log group of the account: a function writes only its own."""
    log_group = logs.LogGroup(
        scope, f"{construct_id}Logs", retention=logs.RetentionDays.THREE_MONTHS
    )
    role = iam.Role(
        scope,
        f"{construct_id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"dpc Lambda: {description}"[:1000],
    )
    log_group.grant_write(role)
    function = lambda_.Function(
        scope,
        construct_id,
        runtime=RUNTIME,
        handler=handler,
        code=lambda_.Code.from_asset(str(staged_lambda_source())),
        description=description,
        environment=dict(environment or {}),
        timeout=timeout or Duration.seconds(30),
        memory_size=256,
        tracing=lambda_.Tracing.ACTIVE,
        layers=[
            lambda_.LayerVersion.from_layer_version_arn(
                scope, f"{construct_id}Powertools", POWERTOOLS_LAYER_ARN
            )
        ],
        log_group=log_group,
        role=role,
    )
    suppress(
        function,
        "AwsSolutions-L1",
        "dpc pins Python 3.12 because the AWS-managed Powertools layer it names is the "
        "python312 build; 3.12 is a supported runtime, and a newer one needs a new layer ARN.",
    )
    suppress(
        role,
        "AwsSolutions-IAM5",
        "X-Ray tracing needs xray:PutTraceSegments/PutTelemetryRecords on '*' (the actions "
        "support no resource-level permissions).",
        findings=["Resource::*"],
    )
    return function
