"""One reading of the run log's items (written by dpc.lambdas.store_dynamodb), shared by the
central late-alert sweep and `dpc runs` / `dpc status` (dpc.observe.runlog), so a field the
trigger manager adds is read the same way by both."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dpc.lambdas.store_dynamodb import ref_key
from dpc.triggers.model import ParentRef
from dpc.triggers.timefmt import format_time, parse_time


@dataclass(frozen=True)
class LoggedRun:
    pipeline: ParentRef
    execution: str
    status: str
    started_at: datetime
    stopped_at: datetime | None
    period: str | None = None
    """The data interval the run processed (§5b)."""
    failed_step: str | None = None
    """For a run that failed in a step: that step."""
    error: str | None = None
    """For a run that did not succeed: why, as the trigger manager logged it."""


def logged_run(item: dict[str, Any]) -> LoggedRun:
    stopped = item.get("stopped_at", {}).get("S")
    return LoggedRun(
        pipeline=ParentRef(item["name"]["S"], item["account"]["S"]),
        execution=item["execution"]["S"],
        status=item["status"]["S"],
        started_at=parse_time(item["started_at"]["S"]),
        stopped_at=parse_time(stopped) if stopped else None,
        period=item.get("period", {}).get("S"),
        failed_step=item.get("failed_step", {}).get("S"),
        error=item.get("error", {}).get("S"),
    )


def runs_since(dynamodb: Any, table: str, ref: ParentRef, since: datetime) -> Iterator[LoggedRun]:
    """The pipeline's runs started at or after ``since``, newest first (its ``by-start``
    index): a caller that stops early reads only the pages it needs."""
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": "by-start",
        "KeyConditionExpression": "pipeline = :p AND started >= :since",
        "ExpressionAttributeValues": {
            ":p": {"S": ref_key(ref)},
            ":since": {"S": format_time(since)},
        },
        "ScanIndexForward": False,
    }
    while True:
        page = dynamodb.query(**request)
        yield from (logged_run(item) for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
