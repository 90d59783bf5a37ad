"""The deployed registry (central dependencies table) as pipelines, plus each one's last status,
so `dpc graph --central` draws what is really deployed rather than what a folder says."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from dpc.lambdas.registry import REGISTRATION_KIND
from dpc.lambdas.tables import DEPENDENCIES, RUN_LOG
from dpc.observe.aws import AwsOptions, table_name
from dpc.spec.model import Pipeline, Schedule, Trigger
from dpc.triggers.codec import condition_from_json
from dpc.triggers.deadlines import parse_expect
from dpc.triggers.model import ParentRef
from dpc.triggers.periods import PeriodSpec

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_dynamodb import DynamoDBClient

PARALLEL_QUERIES = 8


def registrations(
    dynamodb: DynamoDBClient, table: str, name: str | None = None
) -> Iterator[dict[str, Any]]:
    """Every registration (of pipelines called ``name``, when given), through the sparse GSI
    ``by-kind``: a Query, never a Scan."""
    index = next(i for i in DEPENDENCIES.indexes if i.name == "by-kind")
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": index.name,
        "KeyConditionExpression": "#kind = :kind",
        "ExpressionAttributeNames": {"#kind": index.partition_key.name},
        "ExpressionAttributeValues": {":kind": {"S": REGISTRATION_KIND}},
    }
    if name is not None:
        request["FilterExpression"] = "#name = :name"
        request["ExpressionAttributeNames"]["#name"] = "name"
        request["ExpressionAttributeValues"][":name"] = {"S": name}
    for page in dynamodb.get_paginator("query").paginate(**request):
        yield from page["Items"]


def pipeline_of(item: dict[str, Any]) -> Pipeline:
    """Only what the graph and `dpc status` need: identity, schedule, condition, period and
    deadline (no steps are registered; a registration older than periods has the default
    period)."""
    condition = item.get("condition", {}).get("S")
    schedule = item.get("schedule", {}).get("S")
    period = item.get("period", {}).get("S")
    return Pipeline(
        name=item["name"]["S"],
        account=item["account"]["S"],
        steps=(),
        trigger=Trigger(
            schedule=Schedule(schedule) if schedule else None,
            executions=condition_from_json(json.loads(condition)) if condition else None,
        ),
        period=PeriodSpec.from_json(json.loads(period)) if period else PeriodSpec(),
        expect=parse_expect(item["expect"]["S"]) if "expect" in item else None,
    )


def last_status(dynamodb: DynamoDBClient, table: str, ref: ParentRef) -> str | None:
    """The newest run's status: one item from LSI ``by-start``, newest first."""
    response = dynamodb.query(
        TableName=table,
        IndexName="by-start",
        KeyConditionExpression="#p = :p",
        ExpressionAttributeNames={"#p": RUN_LOG.partition_key.name, "#s": "status"},
        ExpressionAttributeValues={":p": {"S": str(ref)}},
        ScanIndexForward=False,
        Limit=1,
        ProjectionExpression="#s",
    )
    items = response.get("Items", [])
    return str(items[0]["status"]["S"]) if items else None


def read_registry(
    aws: AwsOptions,
    dynamodb: DynamoDBClient | None = None,
    cloudformation: CloudFormationClient | None = None,
) -> tuple[list[Pipeline], dict[ParentRef, str]]:
    dynamodb = dynamodb or aws.client("dynamodb")
    cloudformation = cloudformation or aws.client("cloudformation")
    dependencies = table_name(DEPENDENCIES, cloudformation)
    run_log = table_name(RUN_LOG, cloudformation)
    pipelines = [pipeline_of(item) for item in registrations(dynamodb, dependencies)]
    refs = [p.ref for p in pipelines]
    with ThreadPoolExecutor(PARALLEL_QUERIES) as pool:
        found = pool.map(lambda ref: last_status(dynamodb, run_log, ref), refs)
        statuses = {ref: status for ref, status in zip(refs, found, strict=True) if status}
    return pipelines, statuses
