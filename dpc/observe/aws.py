"""Reaching the central account's tables from a laptop: clients and table names.

boto3 is imported inside functions, so importing this module (and the CLI) stays cheap.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

from dpc.errors import DpcError
from dpc.lambdas.tables import Table

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_sts import STSClient

CENTRAL_STACK_NAME = "dpc-central"
"""Kept equal to dpc.infra.ids.CENTRAL_STACK_NAME (importing dpc.infra would pull in CDK)."""
TABLES_CONSTRUCT_ID = "Tables"
"""The central stack's construct holding the tables (dpc.infra.ids.TABLES)."""


@dataclass(frozen=True)
class AwsOptions:
    """The AWS CLI's own options: a named profile, a region, another endpoint (the sandbox)."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None

    @overload
    def client(self, service: Literal["cloudformation"]) -> CloudFormationClient: ...
    @overload
    def client(self, service: Literal["cloudwatch"]) -> CloudWatchClient: ...
    @overload
    def client(self, service: Literal["dynamodb"]) -> DynamoDBClient: ...
    @overload
    def client(self, service: Literal["events"]) -> EventBridgeClient: ...
    @overload
    def client(self, service: Literal["lambda"]) -> LambdaClient: ...
    @overload
    def client(self, service: Literal["sqs"]) -> SQSClient: ...
    @overload
    def client(self, service: Literal["stepfunctions"]) -> SFNClient: ...
    @overload
    def client(self, service: Literal["sts"]) -> STSClient: ...
    def client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import ProfileNotFound

        try:
            session = boto3.session.Session(profile_name=self.profile, region_name=self.region)
        except ProfileNotFound as error:
            raise DpcError(str(error)) from None
        if session.region_name is None:
            raise DpcError("no AWS region: pass --region or set AWS_REGION (or AWS_DEFAULT_REGION)")
        endpoint = self.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        config = Config(retries={"mode": "standard", "max_attempts": 5})
        return session.client(
            service,  # type: ignore[call-overload]
            endpoint_url=endpoint,
            config=config,
        )


@contextmanager
def aws_errors() -> Iterator[None]:
    """AWS failures a user can fix (credentials, permissions, a wrong endpoint) as one line
    with exit code 1, not a traceback."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as error:
        details = error.response.get("Error", {})
        raise DpcError(
            f"AWS refused {error.operation_name}: {details.get('Code')}: {details.get('Message')}"
        ) from None
    except BotoCoreError as error:
        raise DpcError(f"AWS: {error}") from None


def table_name(
    table: Table, cloudformation: CloudFormationClient, stack: str = CENTRAL_STACK_NAME
) -> str:
    """The physical name of a central table: ``$<env var>`` when set, else read from the
    central stack's resources (CloudFormation names the tables, so they are not fixed).

    CDK gives the table the logical id ``Tables<LogicalId><8 hex digits>``.
    """
    explicit = os.environ.get(table.env_var)
    if explicit:
        return explicit
    pattern = re.compile(rf"^{TABLES_CONSTRUCT_ID}{table.logical_id}[0-9A-F]{{8}}$")
    from botocore.exceptions import ClientError

    try:
        pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack)
        for page in pages:
            for resource in page["StackResourceSummaries"]:
                if resource["ResourceType"] == "AWS::DynamoDB::Table" and pattern.match(
                    resource["LogicalResourceId"]
                ):
                    return str(resource["PhysicalResourceId"])
    except ClientError as error:
        raise DpcError(
            f"cannot read the central stack '{stack}' ({error.response['Error']['Message']}): "
            f"use credentials of the central account, or set {table.env_var}"
        ) from None
    raise DpcError(
        f"the central stack '{stack}' has no {table.logical_id} table: "
        f"run `dpc setup-central-account` first, or set {table.env_var}"
    )
