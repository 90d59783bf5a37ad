"""The central outbox sweep: publishes triggers that were recorded but never published.

The trigger manager records a trigger and its outbox entry in one transaction, then
publishes it (DESIGN §6). If the invocation dies in between (PutEvents down, a timeout),
the entry stays in the child's state; the trigger manager retries it only when one of the
child's parents changes status again, which may be never. This Lambda, run every
``OUTBOX_SWEEP_MINUTES`` by a schedule rule, takes over every entry older than the lease:

1. Query the sparse GSI ``outbox-by-age`` (dpc.lambdas.tables) for states whose oldest
   entry was recorded before now - lease: only states with unpublished triggers carry its
   keys, so the sweep reads what is stuck, never the whole table.
2. Claim each stale entry with the conditional update the trigger manager uses for the
   same take-over (``DynamoDbStore.claim``): of a sweep and a trigger manager that find it
   at once, one publishes it. A claim is a lease too: if the claimer dies before clearing
   the entry, the next sweep after the lease takes it again (the starter names the
   execution after the trigger id, so even that second publish starts no second run).
3. Publish with the trigger manager's publisher (the same ``Pipeline Trigger`` event on
   the central bus), then clear the entries with its ``mark_published``.

A failure raises: Lambda retries the invocation twice, then sends it to the on-failure
queue ``dpc-outbox-sweeper-dlq`` (alarmed); the next scheduled sweep retries regardless.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from dpc.constants import ENV_EVENT_BUS_NAME, ENV_TRIGGER_STATE_TABLE
from dpc.lambdas.clients import client as build_client
from dpc.lambdas.publisher import EventBridgePublisher
from dpc.lambdas.store_dynamodb import PERIOD_SK_PREFIX, DynamoDbStore, parse_ref
from dpc.lambdas.tables import OUTBOX_INDEX, OUTBOX_PARTITION
from dpc.triggers.engine import OUTBOX_LEASE, PUBLISH_BATCH, Publisher
from dpc.triggers.events import Trigger
from dpc.triggers.model import ParentRef
from dpc.triggers.periods import Period, parse_period
from dpc.triggers.timefmt import format_time, parse_time

logger = Logger(service="dpc-outbox-sweeper")

MAX_TRIGGERS_PER_SWEEP = 500
"""Bounded work per invocation (50 PutEvents and ~1,000 UpdateItems, well inside the 60 s
timeout): the rest waits for the next sweep."""

StateAddress = tuple[ParentRef, Period | None]


@dataclass(frozen=True)
class UnpublishedTrigger:
    """An outbox entry: a trigger recorded but not (yet) known to be published."""

    trigger: Trigger
    child: ParentRef
    period: Period | None
    """The correlated child's period state holding the entry; None for a ``latest`` child."""
    recorded_at: datetime
    claimed_at: datetime | None = None
    """When a trigger manager or the sweep last took it over (it holds it for the lease)."""


def state_address(item: Mapping[str, Any]) -> StateAddress:
    """(child, period) of a state item: pk "CHILD#name@account", sk "#STATE" or "PERIOD#p"."""
    child = parse_ref(item["pk"]["S"].removeprefix("CHILD#"))
    sort_key = item["sk"]["S"]
    period = None
    if sort_key.startswith(PERIOD_SK_PREFIX):
        period = parse_period(sort_key.removeprefix(PERIOD_SK_PREFIX))
    return child, period


def _states_with_outbox(client: Any, table: str, recorded_before: datetime) -> Iterator[Any]:
    """State items whose oldest outbox entry was recorded at or before ``recorded_before``."""
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": OUTBOX_INDEX,
        "KeyConditionExpression": "outbox_pk = :outbox AND outbox_since <= :before",
        "ExpressionAttributeValues": {
            ":outbox": {"S": OUTBOX_PARTITION},
            ":before": {"S": format_time(recorded_before)},
        },
    }
    while True:
        page = client.query(**request)
        yield from page["Items"]
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _entries(item: Mapping[str, Any]) -> list[UnpublishedTrigger]:
    child, period = state_address(item)
    entries = []
    for value in item.get("outbox", {}).get("M", {}).values():
        fields = value["M"]
        claimed = fields.get("claimed_at", {}).get("S")
        entries.append(
            UnpublishedTrigger(
                trigger=Trigger.from_detail(json.loads(fields["detail"]["S"])),
                child=child,
                period=period,
                recorded_at=parse_time(fields["recorded_at"]["S"]),
                claimed_at=None if claimed is None else parse_time(claimed),
            )
        )
    return entries


def unpublished_triggers(
    client: Any, *, table_name: str, now: datetime, older_than: timedelta = OUTBOX_LEASE
) -> list[UnpublishedTrigger]:
    """Triggers recorded more than ``older_than`` before ``now`` and still unpublished,
    oldest first (``dpc doctor``): one Query of the outbox index, no scan. Read from the
    index, so eventually consistent: an entry published a moment ago may still show."""
    cutoff = now - older_than
    found = [
        entry
        for item in _states_with_outbox(client, table_name, cutoff)
        for entry in _entries(item)
        if entry.recorded_at <= cutoff
    ]
    return sorted(found, key=lambda entry: (entry.recorded_at, entry.trigger.trigger_id))


@dataclass(frozen=True)
class Settings:
    trigger_state_table: str
    event_bus_name: str

    @staticmethod
    def from_env(environ: Mapping[str, str] = os.environ) -> Settings:
        return Settings(environ[ENV_TRIGGER_STATE_TABLE], environ[ENV_EVENT_BUS_NAME])


@dataclass(frozen=True)
class SweepReport:
    published: tuple[str, ...] = ()
    """Trigger ids this sweep claimed and published."""
    held_elsewhere: int = 0
    """Stale entries another invocation holds (claimed within the lease): left to it."""
    index_entries_tidied: int = 0
    """States left in the index with an empty outbox, taken out of it."""


class OutboxSweeper:
    def __init__(
        self,
        settings: Settings,
        *,
        dynamodb: Any = None,
        events: Any = None,
        publisher: Publisher | None = None,
        lease: timedelta = OUTBOX_LEASE,
        max_triggers: int = MAX_TRIGGERS_PER_SWEEP,
    ) -> None:
        self.dynamodb = dynamodb or build_client("dynamodb")
        self.table = settings.trigger_state_table
        # Only the state table is touched (claim, mark_published): no run log here.
        self.store = DynamoDbStore("", self.table, self.dynamodb)
        self.publisher = publisher or EventBridgePublisher(
            settings.event_bus_name, events or build_client("events")
        )
        self.lease = lease
        self.max_triggers = max_triggers

    def sweep(self, now: datetime) -> SweepReport:
        cutoff = now - self.lease
        claimed: list[UnpublishedTrigger] = []
        held, tidied = 0, 0
        for item in _states_with_outbox(self.dynamodb, self.table, cutoff):
            entries = _entries(item)
            if not entries:
                tidied += self._tidy(item)
                continue
            for entry in entries:
                if entry.recorded_at > cutoff or len(claimed) >= self.max_triggers:
                    continue
                fresh_claim = entry.claimed_at is not None and entry.claimed_at > cutoff
                if not fresh_claim and self.store.claim(
                    entry.child, entry.period, entry.trigger.trigger_id, now, self.lease
                ):
                    claimed.append(entry)
                else:
                    held += 1
            if len(claimed) >= self.max_triggers:
                break
        # As the trigger manager does: batches of 10, each cleared once PutEvents took it.
        for start in range(0, len(claimed), PUBLISH_BATCH):
            batch = claimed[start : start + PUBLISH_BATCH]
            self.publisher.publish([entry.trigger for entry in batch])
            by_state: dict[StateAddress, list[str]] = {}
            for entry in batch:
                by_state.setdefault((entry.child, entry.period), []).append(
                    entry.trigger.trigger_id
                )
            for (child, period), trigger_ids in by_state.items():
                self.store.mark_published(child, period, trigger_ids)
        return SweepReport(tuple(e.trigger.trigger_id for e in claimed), held, tidied)

    def _tidy(self, item: Mapping[str, Any]) -> int:
        """Take a state whose outbox emptied out of the index (``mark_published`` does so
        itself unless a concurrent change made it unsure)."""
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key={"pk": item["pk"], "sk": item["sk"]},
                UpdateExpression="REMOVE outbox_pk, outbox_since",
                ConditionExpression="attribute_exists(pk) AND size(outbox) = :zero",
                ExpressionAttributeValues={":zero": {"N": "0"}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return 0
        return 1


_sweeper: OutboxSweeper | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _sweeper
    if _sweeper is None:
        _sweeper = OutboxSweeper(Settings.from_env())
    report = _sweeper.sweep(datetime.now(UTC))
    logger.info(
        "swept",
        extra={
            "published": list(report.published),
            "held_elsewhere": report.held_elsewhere,
            "index_entries_tidied": report.index_entries_tidied,
        },
    )
    return {"published": list(report.published), "held_elsewhere": report.held_elsewhere}
