"""§5 rule 9 read back: the recorded evaluations of one child, newest first.

Records are written by the trigger manager (dpc.lambdas.store_dynamodb: partition
``WHY#name@account`` of the trigger-state table, sort key ``<evaluated_at>#…``, attribute
``record`` = JSON of dpc.triggers.events.Evaluation), so a Query with
``ScanIndexForward=False`` reads them newest first, and a limit stops it early.
"""

from __future__ import annotations

import json
from typing import Any

from dpc.lambdas.store_dynamodb import why_partition
from dpc.triggers.events import Evaluation
from dpc.triggers.model import ParentRef


def evaluations(dynamodb: Any, table: str, child: ParentRef, limit: int) -> list[Evaluation]:
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
        found += [Evaluation.from_json(json.loads(i["record"]["S"])) for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return found[:limit]
