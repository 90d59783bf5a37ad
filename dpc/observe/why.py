"""§5 rule 9 read back: the recorded evaluations of one child, newest first.

Records are written by the trigger manager (dpc.lambdas.store_dynamodb: partition
``WHY#name@account`` of the trigger-state table, sort key ``<evaluated_at>#…``, attribute
``record`` = JSON of dpc.triggers.events.Evaluation), so a Query with
``ScanIndexForward=False`` reads them newest first, and a limit stops it early.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from dpc.lambdas.store_dynamodb import why_partition
from dpc.triggers.events import Evaluation
from dpc.triggers.model import ParentRef

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def evaluations(
    dynamodb: DynamoDBClient, table: str, child: ParentRef, limit: int, period: str | None = None
) -> list[Evaluation]:
    """With ``period``: only evaluations for that period — a correlated child's period, or
    for a ``latest`` child the period of the parent run evaluated."""
    found: list[Evaluation] = []
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": why_partition(child)}},
        "ScanIndexForward": False,
        "Limit": min(limit, 100),
        "ProjectionExpression": "#record",
        "ExpressionAttributeNames": {"#record": "record"},
    }
    while len(found) < limit:
        page = dynamodb.query(**request)
        records = [Evaluation.from_json(json.loads(i["record"]["S"])) for i in page["Items"]]
        found += [e for e in records if period is None or _of_period(e, period)]
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return found[:limit]


def _of_period(evaluation: Evaluation, period: str) -> bool:
    if evaluation.period is not None:
        return str(evaluation.period) == period
    return evaluation.event.period is not None and str(evaluation.event.period) == period
