"""The due index: one item per watched (pipeline, period), in the bucket of the hour its
deadline falls in, so the central late-alert sweep (dpc.lambdas.late_alerts) reads only what
is due. Written here at registration (the dependencies publisher) and by the sweep, which
chains each pipeline on to its next period; in the trigger-state table::

    pk "DUE#2026-11-28T06", sk "<due ISO>#<name>@<account>#<period>", expires_at N (TTL)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dpc.lambdas.registry import Registration
from dpc.lambdas.store_dynamodb import ref_key
from dpc.triggers.lateness import first_due_after
from dpc.triggers.model import ParentRef
from dpc.triggers.periods import Period, PeriodSpec
from dpc.triggers.timefmt import format_time

DUE_PREFIX = "DUE#"
DUE_RETENTION = timedelta(days=35)
"""An item no sweep took (the sweep broken for weeks) is dropped by TTL after this."""


def due_bucket(moment: datetime) -> str:
    return DUE_PREFIX + moment.strftime("%Y-%m-%dT%H")


def due_item(
    ref: ParentRef, period: Period, due: datetime, now: datetime, *, inferred: bool = False
) -> dict[str, Any]:
    """A watched (pipeline, period). It goes in the bucket of its deadline, or of ``now`` when
    the deadline is already past (a late sweep chaining on), so the cursor never skips it.
    ``inferred``: the deadline of a child that sets none, inferred from its parents'."""
    item: dict[str, Any] = {
        "pk": {"S": due_bucket(max(due, now))},
        "sk": {"S": f"{format_time(due)}#{ref_key(ref)}#{period}"},
        "pipeline": {"S": ref_key(ref)},
        "period": {"S": str(period)},
        "due": {"S": format_time(due)},
        "expires_at": {"N": str(int((due + DUE_RETENTION).timestamp()))},
    }
    if inferred:
        item["inferred"] = {"BOOL": True}
    return item


def watch(dynamodb: Any, table: str, registration: Registration, now: datetime) -> None:
    """Start watching a (re-)registered pipeline with a deadline: its first period due after
    ``now``. Idempotent (same key for the same deadline); a changed deadline is re-read from
    the registration when the older item comes due."""
    if registration.expect is None:
        return
    spec = registration.period or PeriodSpec()
    period, due = first_due_after(registration.expect, spec, now)
    dynamodb.put_item(TableName=table, Item=due_item(registration.pipeline, period, due, now))
