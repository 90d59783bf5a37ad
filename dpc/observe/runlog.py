"""The central run log, newest first, read with DynamoDB Queries only (never a Scan).

Item shape: dpc.lambdas.store_dynamodb (written by the trigger manager). Two access paths,
both sorted by ``started`` ("<ISO start>#<execution>") descending:

* one pipeline: LSI ``by-start`` on its partition ``name@account``;
* every pipeline: GSI ``by-day``, one partition per UTC day, walked from today back to
  ``since`` — a day's runs come newest first, so the walk can stop as soon as it has enough.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any

from dpc.lambdas.run_log import logged_run
from dpc.lambdas.tables import RUN_LOG
from dpc.triggers.model import ParentRef
from dpc.triggers.timefmt import format_time

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SCHEDULED_PREFIX = "s-"
"""How the starter names a scheduled run (dpc.lambdas.starter), the only thing that tells
it from a manual start: both have neither trigger nor causes."""
PAGE_SIZE = 100
"""Items per Query request: small enough to stop early, large enough to be few requests."""


@dataclass(frozen=True)
class Run:
    pipeline: ParentRef
    execution: str
    status: str
    started_at: datetime
    stopped_at: datetime | None
    trigger_id: str | None
    causes: tuple[dict[str, str], ...]
    """The parent runs that triggered this one (empty for a schedule or a manual start)."""
    scheduled: bool
    period: str | None = None
    """The data interval the run processed (§5b), as logged by the trigger manager."""
    rerun_of: str | None = None
    """An older execution of the same pipeline started with the same input (same trigger id):
    someone restarted it by hand. Known only when both are among the runs read."""
    failed_step: str | None = None
    """For a run that failed in a step: that step."""
    error: str | None = None
    """For a run that did not succeed: why, as the trigger manager logged it."""

    @property
    def triggered_by(self) -> str:
        if self.rerun_of:
            return f"rerun of {self.rerun_of}"
        if self.causes:
            return ", ".join(
                f"{c.get('pipeline')}@{c.get('account')} {c.get('status')}" for c in self.causes
            )
        if self.scheduled:
            return "schedule"
        return "manual"

    def duration(self, now: datetime) -> timedelta:
        return (self.stopped_at or now) - self.started_at

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline.name,
            "account": self.pipeline.account,
            "execution": self.execution,
            "status": self.status,
            "started_at": format_time(self.started_at),
            "stopped_at": format_time(self.stopped_at) if self.stopped_at else None,
            "duration_seconds": int(self.duration(now).total_seconds()),
            "triggered_by": self.triggered_by,
            "period": self.period,
            "trigger_id": self.trigger_id,
            "causes": list(self.causes),
            "rerun_of": self.rerun_of,
            "failed_step": self.failed_step,
            "error": self.error,
        }


def run_of(item: dict[str, Any]) -> Run:
    try:
        started_input = json.loads(item.get("input", {}).get("S", "{}") or "{}")
    except json.JSONDecodeError:
        started_input = {}
    if not isinstance(started_input, dict):
        started_input = {}
    dpc_input = started_input.get("dpc")
    execution = item["execution"]["S"]
    scheduled = "scheduled_time" in started_input
    if isinstance(dpc_input, dict):  # the §6 input of a run started by dpc
        started_input = dpc_input
        scheduled = execution.startswith(SCHEDULED_PREFIX)
    causes = started_input.get("causes") or []
    logged = logged_run(item)
    return Run(
        pipeline=logged.pipeline,
        execution=execution,
        status=logged.status,
        started_at=logged.started_at,
        stopped_at=logged.stopped_at,
        trigger_id=started_input.get("trigger_id"),
        causes=tuple(c for c in causes if isinstance(c, dict)),
        scheduled=scheduled,
        period=logged.period,
        rerun_of=started_input.get("rerun_of") or None,
        failed_step=logged.failed_step,
        error=logged.error,
    )


@dataclass(frozen=True)
class RunFilter:
    since: datetime
    status: str | None = None
    account: str | None = None
    name: str | None = None
    period: str | None = None


def _filter_expression(
    run_filter: RunFilter, by_index: bool
) -> tuple[str | None, dict[str, str], dict[str, Any]]:
    """Status (and, on the by-day index, account and name) as a FilterExpression."""
    clauses, names, values = [], {}, {}
    wanted = [("status", run_filter.status), ("period", run_filter.period)]
    if by_index:
        wanted += [("account", run_filter.account), ("name", run_filter.name)]
    for attribute, value in wanted:
        if value is not None:
            names[f"#f_{attribute}"] = attribute
            values[f":f_{attribute}"] = {"S": value}
            clauses.append(f"#f_{attribute} = :f_{attribute}")
    return (" AND ".join(clauses) or None), names, values


def _query(dynamodb: DynamoDBClient, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every item of a Query, page by page, fetched only as the caller consumes them."""
    request = {**request, "Limit": PAGE_SIZE, "ScanIndexForward": False}
    while True:
        page = dynamodb.query(**request)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _request(
    table: str,
    index: str,
    key_name: str,
    key_value: str,
    run_filter: RunFilter,
    by_day: bool,
) -> dict[str, Any]:
    names = {"#k": key_name, "#started": "started"}
    values: dict[str, Any] = {
        ":k": {"S": key_value},
        ":since": {"S": format_time(run_filter.since)},
    }
    expression, filter_names, filter_values = _filter_expression(run_filter, by_day)
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": "#k = :k AND #started >= :since",
        "ExpressionAttributeNames": {**names, **filter_names},
        "ExpressionAttributeValues": {**values, **filter_values},
    }
    if expression:
        request["FilterExpression"] = expression
    return request


def runs_of_pipelines(
    dynamodb: DynamoDBClient, table: str, pipelines: Iterable[ParentRef], run_filter: RunFilter
) -> Iterator[Run]:
    """Runs of the given pipelines, newest first (one lazy Query per pipeline, merged)."""
    streams = [
        map(
            run_of,
            _query(
                dynamodb,
                _request(
                    table, "by-start", RUN_LOG.partition_key.name, str(ref), run_filter, False
                ),
            ),
        )
        for ref in pipelines
    ]
    return heapq.merge(*streams, key=lambda run: (run.started_at, run.execution), reverse=True)


def all_runs(
    dynamodb: DynamoDBClient, table: str, run_filter: RunFilter, now: datetime
) -> Iterator[Run]:
    """Runs of every pipeline, newest first: the by-day index from today back to ``since``."""
    day = now.astimezone(UTC).date()
    first = run_filter.since.astimezone(UTC).date()
    while day >= first:
        request = _request(table, "by-day", "day", day.isoformat(), run_filter, True)
        yield from map(run_of, _query(dynamodb, request))
        day -= timedelta(days=1)


def list_runs(
    dynamodb: DynamoDBClient,
    table: str,
    run_filter: RunFilter,
    now: datetime,
    limit: int,
    pipelines: Iterable[ParentRef] | None = None,
) -> list[Run]:
    runs = (
        runs_of_pipelines(dynamodb, table, pipelines, run_filter)
        if pipelines is not None
        else all_runs(dynamodb, table, run_filter, now)
    )
    return mark_reruns(list(islice(runs, limit)))


def mark_reruns(newest_first: list[Run]) -> list[Run]:
    """A run whose input (trigger id) an older run of the same pipeline already had was
    started again by hand, e.g. a failed run restarted with its input."""
    first: dict[tuple[ParentRef, str], str] = {}
    for run in reversed(newest_first):
        if run.trigger_id:
            first.setdefault((run.pipeline, run.trigger_id), run.execution)
    return [
        replace(run, rerun_of=original)
        if not run.rerun_of
        and run.trigger_id
        and (original := first[(run.pipeline, run.trigger_id)]) != run.execution
        else run
        for run in newest_first
    ]
