"""The DynamoDB :class:`~dpc.triggers.engine.TriggerStore` the trigger-manager Lambda runs on.

Tables (keys and indexes in dpc.lambdas.tables):

RunLog item (one per execution, key pipeline = "name@account", execution = name)::

    name, account, execution_arn, status, input, started_at, stopped_at, updated_at,
    failed_step, error  (a run that did not succeed: the step that failed it, and why)
    started = "<started_at>#<execution>", day = "YYYY-MM-DD" (index keys),
    statuses SS  every accepted status (rule 1: a status already in it is a duplicate)
    ended    BOOL set by the first terminal status (rule 2: RUNNING never replaces it)
    finished SS  statuses whose processing completed (a redelivery of an unfinished one resumes)

  ``accept`` is ONE conditional UpdateItem: it logs the run and decides rules 1-2 at once;
  on a failed condition DynamoDB returns the old item (ReturnValuesOnConditionCheckFailure),
  so telling a duplicate from a resume costs nothing more.

TriggerState child state (pk "CHILD#name@account", sk "#STATE" for a ``latest`` child,
sk "PERIOD#<period>" for each open period of a correlated one, §5b)::

    version N   compare-and-set: every commit is conditional on the version it read
    last    M   {"parent@account": {time, status, execution, period}} — last[r] (or last[P][r])
    every   M   {"parent@account": {"<parent period>": {time, status, execution, period}}}
    fired   M   {"allOf[0]": [execution, ...]} — P5, which runs fulfilled the last firing
    applied M   {"parent@account": [last 8 "execution#status" keys]} — skip a resumed event
    clock   S   §5 rule 8 clock at the last evaluation
    reset_at S  §5 rule 8 newest reset tick applied: older runs are ignored for this child
    outbox  M   {trigger_id: {detail: JSON, recorded_at: ISO, claimed_at: ISO}} — recorded,
                not yet published; ``claimed_at`` once an invocation or the sweep took it over
    outbox_pk, outbox_since S  only while the outbox has entries: the sparse index the outbox
                sweep queries (dpc.lambdas.tables); since = the oldest entry's recorded_at
    expires_at N  (period items) TTL: the period's end + keep (P6)

  Bounded: it holds at most one event and eight keys per parent (and, per period, one entry
  per parent period of an ``every`` item), whatever the number of runs; a correlated child
  has one item per open period, and DynamoDB's TTL removes closed ones (reads never need
  them: the engine ignores a closed period before loading it).
  ``commit`` is ONE TransactWriteItems: the state (conditional on its version), the trigger
  record (pk "TRIGGER#id", conditional on not existing: exactly once) and the evaluation
  record (pk "WHY#child", sk "<evaluated_at>#<parent>#<execution>#<status>", TTL 30 days).
  A new outbox entry is added by path (``outbox.#id``) so a concurrent ``mark_published``
  (``REMOVE outbox.#id``, no version change) is never undone by a commit.
  An entry whose owner's lease ran out is taken over with ``claim``: a conditional update
  of its ``claimed_at`` (the trigger manager on a later event, or the outbox sweep), so of
  two that find it at once only one publishes it.

Requests per event: accept 1 + finish 1 (+ the registry's one Query = 3), per child evaluated
load 1 + commit 1, per child that fired mark_published 1.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from dpc.lambdas.tables import OUTBOX_PARTITION
from dpc.triggers.engine import Acceptance, CommitOutcome
from dpc.triggers.events import PendingTrigger, RunEvent, RunRecord, Trigger
from dpc.triggers.model import TERMINAL_STATUSES, ParentRef
from dpc.triggers.periods import Period, parse_period
from dpc.triggers.rules import ChildState, Step
from dpc.triggers.timefmt import format_time, parse_time

EVALUATION_TTL = timedelta(days=30)
TRIGGER_TTL = timedelta(days=400)
STATE_SK = "#STATE"
PERIOD_SK_PREFIX = "PERIOD#"
TRIGGER_SK = "#TRIGGER"
BATCH_GET_KEYS = 100
"""Keys per BatchGetItem (the API's limit)."""
CONDITION_STATE_ATTRIBUTES = ("last", "applied", "clock", "reset_at", "every", "fired")
"""What a child's state knows about its condition's parents; the rest (version, outbox and
its index keys) is about triggers already recorded."""


def ref_key(ref: ParentRef) -> str:
    return f"{ref.name}@{ref.account}"


def parse_ref(text: str) -> ParentRef:
    name, _, account = text.rpartition("@")
    return ParentRef(name, account)


def child_key(ref: ParentRef, period: Period | None = None) -> dict[str, Any]:
    sort_key = STATE_SK if period is None else f"{PERIOD_SK_PREFIX}{period}"
    return {"pk": {"S": f"CHILD#{ref_key(ref)}"}, "sk": {"S": sort_key}}


def why_partition(ref: ParentRef) -> str:
    """Partition of a child's evaluation records (``dpc why``: newest first)."""
    return f"WHY#{ref_key(ref)}"


def _event_json(event: RunEvent) -> dict[str, Any]:
    item = {
        "time": {"S": format_time(event.time)},
        "status": {"S": event.status},
        "execution": {"S": event.execution},
    }
    if event.period is not None:
        item["period"] = {"S": str(event.period)}
    if event.upstream:
        item["upstream"] = {"SS": sorted(str(ref) for ref in event.upstream)}
    return {"M": item}


def _event_from(parent: ParentRef, value: dict[str, Any]) -> RunEvent:
    fields = value["M"]
    period = fields.get("period", {}).get("S")
    return RunEvent(
        parse_time(fields["time"]["S"]),
        parent,
        fields["status"]["S"],
        fields["execution"]["S"],
        None if period is None else parse_period(period),
        upstream=frozenset(parse_ref(text) for text in fields.get("upstream", {}).get("SS", [])),
    )


def _outbox_entry(pending: PendingTrigger) -> dict[str, Any]:
    return {
        "M": {
            "detail": {"S": json.dumps(pending.trigger.detail())},
            "recorded_at": {"S": format_time(pending.recorded_at)},
        }
    }


def forget_condition_write(table: str, child: ParentRef, version: int | None) -> dict[str, Any]:
    """The TransactWriteItems entry that resets a ``latest`` child's state for a changed
    condition (the registry's re-registration): its parents' events are forgotten, the
    outbox stays, so a trigger recorded but not yet published is still published. The
    version moves on, so a trigger manager that loaded the old state reloads. ``version``
    is the one read (None: no state yet, which the write checks too)."""
    if version is None:
        return {
            "ConditionCheck": {
                "TableName": table,
                "Key": child_key(child),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
    return {
        "Update": {
            "TableName": table,
            "Key": child_key(child),
            "UpdateExpression": "SET #version = :next REMOVE "
            + ", ".join(f"#{name}" for name in CONDITION_STATE_ATTRIBUTES),
            "ConditionExpression": "#version = :read",
            "ExpressionAttributeNames": {
                "#version": "version",
                **{f"#{name}": name for name in CONDITION_STATE_ATTRIBUTES},
            },
            "ExpressionAttributeValues": {
                ":read": {"N": str(version)},
                ":next": {"N": str(version + 1)},
            },
        }
    }


def _state_from(item: dict[str, Any]) -> ChildState:
    last = {
        parse_ref(parent): _event_from(parse_ref(parent), value)
        for parent, value in item.get("last", {"M": {}})["M"].items()
    }
    every = {
        parse_ref(parent): {
            key: _event_from(parse_ref(parent), entry) for key, entry in value["M"].items()
        }
        for parent, value in item.get("every", {"M": {}})["M"].items()
    }
    fired = (
        {key: tuple(e["S"] for e in value["L"]) for key, value in item["fired"]["M"].items()}
        if "M" in item.get("fired", {})
        else None
    )
    applied = {
        parse_ref(parent): tuple(key["S"] for key in value["L"])
        for parent, value in item.get("applied", {"M": {}})["M"].items()
    }
    outbox = {
        trigger_id: PendingTrigger(
            Trigger.from_detail(json.loads(value["M"]["detail"]["S"])),
            parse_time(value["M"]["recorded_at"]["S"]),
        )
        for trigger_id, value in item.get("outbox", {"M": {}})["M"].items()
    }
    clock = parse_time(item["clock"]["S"]) if "clock" in item else None
    reset_at = parse_time(item["reset_at"]["S"]) if "S" in item.get("reset_at", {}) else None
    return ChildState(
        int(item["version"]["N"]),
        last,
        applied,
        clock,
        outbox,
        reset_at,
        every,
        fired,
        None if "N" not in item.get("expires_at", {}) else _from_epoch(item["expires_at"]),
    )


def _key_text(item: dict[str, Any]) -> str:
    return f"{item['pk']['S']}\x00{item['sk']['S']}"


def _epoch(moment: datetime) -> dict[str, str]:
    return {"N": str(int(moment.timestamp()))}


def _from_epoch(value: dict[str, str]) -> datetime:
    return datetime.fromtimestamp(int(value["N"]), UTC)


@dataclass(frozen=True)
class DynamoDbStore:
    run_log_table: str
    state_table: str
    client: Any

    # -- rules 1-2 and the run log -------------------------------------------------------
    def accept(self, event: RunEvent, record: RunRecord) -> Acceptance:
        """Log the run and decide rules 1-2; ``record`` adds what only the Lambda knows."""
        started_at = record.started_at or event.time
        values: dict[str, Any] = {
            ":name": {"S": event.pipeline.name},
            ":account": {"S": event.pipeline.account},
            ":arn": {"S": record.execution_arn},
            ":status": {"S": event.status},
            ":statuses": {"SS": [event.status]},
            ":started_at": {"S": format_time(started_at)},
            ":started": {"S": f"{format_time(started_at)}#{event.execution}"},
            ":day": {"S": started_at.strftime("%Y-%m-%d")},
            ":updated": {"S": format_time(event.time)},
            ":input": {"S": record.input or "{}"},
        }
        sets = [
            "#name = :name",
            "account = :account",
            "execution_arn = :arn",
            "#status = :status",
            "started_at = if_not_exists(started_at, :started_at)",
            "started = if_not_exists(started, :started)",
            "#day = if_not_exists(#day, :day)",
            "updated_at = :updated",
            "#input = if_not_exists(#input, :input)",
        ]
        if event.period is not None:
            sets.append("#period = if_not_exists(#period, :period)")
            values[":period"] = {"S": str(event.period)}
        if not event.propagate:
            sets.append("propagate = :false")
            values[":false"] = {"BOOL": False}
        names = {"#name": "name", "#status": "status", "#day": "day", "#input": "input"}
        if event.period is not None:
            names["#period"] = "period"
        condition = "(attribute_not_exists(statuses) OR NOT contains(statuses, :status))"
        if event.status in TERMINAL_STATUSES:
            sets.append("ended = :true")
            values[":true"] = {"BOOL": True}
            stopped = record.stopped_at or event.time
            sets.append("stopped_at = :stopped")
            values[":stopped"] = {"S": format_time(stopped)}
            for attribute, text in (("failed_step", record.failed_step), ("error", record.error)):
                if text:
                    sets.append(f"#{attribute} = :{attribute}")
                    values[f":{attribute}"] = {"S": text}
                    names[f"#{attribute}"] = attribute
        else:
            condition += " AND attribute_not_exists(ended)"
        try:
            self.client.update_item(
                TableName=self.run_log_table,
                Key={
                    "pipeline": {"S": ref_key(event.pipeline)},
                    "execution": {"S": event.execution},
                },
                UpdateExpression=f"SET {', '.join(sets)} ADD statuses :statuses",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            old: dict[str, Any] = error.response.get("Item", {})  # type: ignore[assignment]
            if event.status not in old.get("statuses", {}).get("SS", []):
                return Acceptance.STALE
            finished = old.get("finished", {}).get("SS", [])
            return Acceptance.DUPLICATE if event.status in finished else Acceptance.RESUMED
        return Acceptance.NEW

    def finish(self, event: RunEvent) -> None:
        self.client.update_item(
            TableName=self.run_log_table,
            Key={"pipeline": {"S": ref_key(event.pipeline)}, "execution": {"S": event.execution}},
            UpdateExpression="ADD finished :status",
            ExpressionAttributeValues={":status": {"SS": [event.status]}},
        )

    # -- child state ------------------------------------------------------------------------
    def load(self, child: ParentRef, period: Period | None) -> ChildState:
        item = self.client.get_item(
            TableName=self.state_table, Key=child_key(child, period), ConsistentRead=True
        ).get("Item")
        return ChildState() if item is None else _state_from(item)

    def load_many(
        self, addresses: Sequence[tuple[ParentRef, Period | None]]
    ) -> dict[tuple[ParentRef, Period | None], ChildState]:
        """Strongly consistent BatchGetItem, 100 keys a request; keys DynamoDB leaves
        unprocessed (throttling) are asked again until none is left."""
        by_key = {_key_text(child_key(*address)): address for address in addresses}
        states = {address: ChildState() for address in addresses}
        keys = [child_key(*address) for address in dict.fromkeys(addresses)]
        for start in range(0, len(keys), BATCH_GET_KEYS):
            request: dict[str, Any] = {
                self.state_table: {
                    "Keys": keys[start : start + BATCH_GET_KEYS],
                    "ConsistentRead": True,
                }
            }
            while request:
                answer = self.client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self.state_table, []):
                    states[by_key[_key_text(item)]] = _state_from(item)
                request = answer.get("UnprocessedKeys") or {}
        return states

    def commit(
        self, child: ParentRef, period: Period | None, expected_version: int, step: Step
    ) -> CommitOutcome:
        evaluation_write = self._evaluation_item(child, step)
        state = step.state
        if state is None:
            self.client.put_item(TableName=self.state_table, Item=evaluation_write)
            return CommitOutcome.COMMITTED
        values: dict[str, Any] = {
            ":version": {"N": str(expected_version + 1)},
            ":last": {"M": {ref_key(r): _event_json(e) for r, e in state.last.items()}},
            ":applied": {
                "M": {
                    ref_key(r): {"L": [{"S": key} for key in keys]}
                    for r, keys in state.applied.items()
                }
            },
            ":clock": {"S": format_time(state.clock)} if state.clock else {"NULL": True},
            ":reset_at": {"S": format_time(state.reset_at)} if state.reset_at else {"NULL": True},
            ":every": {
                "M": {
                    ref_key(r): {"M": {key: _event_json(e) for key, e in entries.items()}}
                    for r, entries in state.every.items()
                }
            },
            ":fired": {"NULL": True}
            if state.fired is None
            else {
                "M": {
                    key: {"L": [{"S": execution} for execution in executions]}
                    for key, executions in state.fired.items()
                }
            },
        }
        if state.expires_at is not None:
            values[":expires_at"] = _epoch(state.expires_at)
        attributes = {name.removeprefix(":"): value for name, value in values.items()}
        state_write: dict[str, Any]
        if expected_version == 0:
            item = {
                **child_key(child, period),
                **attributes,
                "outbox": {"M": {tid: _outbox_entry(p) for tid, p in state.outbox.items()}},
            }
            if state.outbox:
                oldest = min(p.recorded_at for p in state.outbox.values())
                item["outbox_pk"] = {"S": OUTBOX_PARTITION}
                item["outbox_since"] = {"S": format_time(oldest)}
            state_write = {
                "Put": {
                    "TableName": self.state_table,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        else:
            names = {f"#{name}": name for name in attributes}
            sets = ", ".join(f"#{name} = :{name}" for name in attributes)
            values[":expected"] = {"N": str(expected_version)}
            if step.trigger is not None:
                pending = state.outbox[step.trigger.trigger_id]
                sets += (
                    ", outbox.#trigger = :entry, outbox_pk = :outbox_pk,"
                    " outbox_since = if_not_exists(outbox_since, :outbox_since)"
                )
                names["#trigger"] = step.trigger.trigger_id
                values[":entry"] = _outbox_entry(pending)
                values[":outbox_pk"] = {"S": OUTBOX_PARTITION}
                values[":outbox_since"] = {"S": format_time(pending.recorded_at)}
            state_write = {
                "Update": {
                    "TableName": self.state_table,
                    "Key": child_key(child, period),
                    "UpdateExpression": f"SET {sets}",
                    "ConditionExpression": "#version = :expected",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            }
        evaluation = step.evaluation
        writes: list[dict[str, Any]] = [state_write]
        if step.trigger is not None:
            writes.append(
                {
                    "Put": {
                        "TableName": self.state_table,
                        "Item": {
                            "pk": {"S": f"TRIGGER#{step.trigger.trigger_id}"},
                            "sk": {"S": TRIGGER_SK},
                            "child": {"S": ref_key(child)},
                            "detail": {"S": json.dumps(step.trigger.detail())},
                            "event": {"S": json.dumps(evaluation.event.to_json())},
                            "recorded_at": {"S": format_time(evaluation.evaluated_at)},
                            "expires_at": _epoch(evaluation.evaluated_at + TRIGGER_TTL),
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        writes.append({"Put": {"TableName": self.state_table, "Item": evaluation_write}})
        try:
            self.client.transact_write_items(TransactItems=writes)
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            trigger_taken = (
                step.trigger is not None
                and len(reasons) > 1
                and reasons[1] == "ConditionalCheckFailed"
                and reasons[0] in (None, "None")
            )
            return CommitOutcome.DUPLICATE_TRIGGER if trigger_taken else CommitOutcome.CONFLICT
        return CommitOutcome.COMMITTED

    def _evaluation_item(self, child: ParentRef, step: Step) -> dict[str, Any]:
        evaluation = step.evaluation
        event = evaluation.event
        return {
            "pk": {"S": why_partition(child)},
            "sk": {
                "S": f"{format_time(evaluation.evaluated_at)}#{ref_key(event.pipeline)}#{event.key}"
            },
            "record": {"S": json.dumps(evaluation.to_json())},
            "result": {"S": evaluation.result},
            **({"trigger_id": {"S": evaluation.trigger_id}} if evaluation.trigger_id else {}),
            **({"period": {"S": str(evaluation.period)}} if evaluation.period else {}),
            "expires_at": _epoch(evaluation.evaluated_at + EVALUATION_TTL),
        }

    def mark_published(
        self, child: ParentRef, period: Period | None, trigger_ids: Sequence[str]
    ) -> None:
        names = {f"#t{i}": tid for i, tid in enumerate(trigger_ids)}
        removals = ", ".join(f"outbox.{name}" for name in names)
        # Usually these are all the outbox holds: then the state leaves the sweep's index in
        # the same request. If a commit added one meanwhile (or some were already removed),
        # only the entries go; the sweep tidies an index entry left with an empty outbox.
        emptied = {
            "UpdateExpression": f"REMOVE {removals}, outbox_pk, outbox_since",
            "ConditionExpression": "attribute_exists(pk) AND size(outbox) = :count",
            "ExpressionAttributeValues": {":count": {"N": str(len(names))}},
        }
        # A child deregistered meanwhile has no state left to clean (and must not get a
        # key-only item back).
        some = {
            "UpdateExpression": f"REMOVE {removals}",
            "ConditionExpression": "attribute_exists(pk)",
        }
        for request in (emptied, some):
            try:
                self.client.update_item(
                    TableName=self.state_table,
                    Key=child_key(child, period),
                    ExpressionAttributeNames=names,
                    **request,
                )
                return
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise

    def claim(
        self,
        child: ParentRef,
        period: Period | None,
        trigger_id: str,
        now: datetime,
        lease: timedelta,
    ) -> bool:
        """Take over an outbox entry recorded, and not claimed, more than ``lease`` before
        ``now``: one conditional UpdateItem, so of two claimers only one wins."""
        try:
            self.client.update_item(
                TableName=self.state_table,
                Key=child_key(child, period),
                UpdateExpression="SET outbox.#t.claimed_at = :now",
                ConditionExpression="attribute_exists(outbox.#t)"
                " AND outbox.#t.recorded_at <= :expiry"
                " AND (attribute_not_exists(outbox.#t.claimed_at)"
                " OR outbox.#t.claimed_at <= :expiry)",
                ExpressionAttributeNames={"#t": trigger_id},
                ExpressionAttributeValues={
                    ":now": {"S": format_time(now)},
                    ":expiry": {"S": format_time(now - lease)},
                },
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True
