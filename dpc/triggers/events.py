"""What flows through the trigger rules, with its JSON: run events, triggers, evaluations.

The JSON forms are contracts: a ``RunEvent``'s is a trigger's cause (DESIGN §6) and the
input of trigger ids (rule 7, P7), a ``Trigger``'s is the ``Pipeline Trigger`` event detail,
an ``Evaluation``'s is what ``dpc why`` reads back from the store.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from dpc.triggers.model import STATUSES, ParentRef, Status
from dpc.triggers.periods import Period, parse_period
from dpc.triggers.timefmt import format_event_time, format_time, parse_time


@dataclass(frozen=True)
class RunEvent:
    """A status change of one execution of one pipeline (§5 "event"), with the period the
    run processes (§5b; None only where periods are not known, e.g. an old stored record)."""

    time: datetime
    pipeline: ParentRef
    status: Status
    execution: str
    period: Period | None = None
    propagate: bool = True
    """P8: False for a run started with ``--no-downstream``: no child fires on it."""
    upstream: frozenset[ParentRef] = frozenset()
    """Every pipeline whose runs led to this one through triggers (its §6 input's
    ``dpc.upstream``): a child found here would close a cycle at run time (BLOCKED)."""

    @property
    def key(self) -> str:
        """Identity for rule 1: the same execution reporting the same status again."""
        return f"{self.execution}#{self.status}"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "pipeline": self.pipeline.name,
            "account": self.pipeline.account,
            "status": self.status,
            "execution": self.execution,
            "time": format_event_time(self.time),
        }
        if self.period is not None:
            data["period"] = str(self.period)
        if not self.propagate:
            data["propagate"] = False
        if self.upstream:
            data["upstream"] = sorted(str(ref) for ref in self.upstream)
        return data

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> RunEvent:
        status = "SUCCEEDED" if data["status"] == "SUCCESS" else data["status"]
        if status not in STATUSES:
            raise ValueError(f"status '{data['status']}' is not one of {', '.join(STATUSES)}")
        period = data.get("period")
        propagate = data.get("propagate", True)
        if not isinstance(propagate, bool):
            raise ValueError(f"propagate: expected true or false, got {json.dumps(propagate)}")
        return RunEvent(
            time=parse_time(str(data["time"])),
            pipeline=ParentRef(str(data["pipeline"]), str(data["account"])),
            status=cast(Status, status),
            execution=str(data["execution"]),
            period=None if period is None else parse_period(str(period)),
            propagate=propagate,
            upstream=parse_upstream(data.get("upstream", ())),
        )


@dataclass(frozen=True)
class RunRecord:
    """What the run log keeps of a run besides its §5 event (from the Step Functions event)."""

    execution_arn: str = ""
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    input: str | None = None
    failed_step: str | None = None
    """For a run that failed in a step: that step's name."""
    error: str | None = None
    """For a run that did not succeed: what went wrong, as people read it."""


@dataclass(frozen=True)
class Trigger:
    child: ParentRef
    trigger_id: str
    causes: tuple[RunEvent, ...]
    period: Period | None = None
    """The period the child's run processes (§5b): the fired period of a correlated child,
    the period containing trigger time + offset for a ``latest`` one."""

    def detail(self) -> dict[str, Any]:
        """The ``Pipeline Trigger`` event detail (DESIGN §6)."""
        detail: dict[str, Any] = {
            "pipeline": self.child.name,
            "account": self.child.account,
            "trigger_id": self.trigger_id,
            "causes": [cause.to_json() for cause in self.causes],
        }
        if self.period is not None:
            detail["period"] = str(self.period)
        upstream = lineage(self.causes)
        if upstream:
            detail["upstream"] = sorted(str(ref) for ref in upstream)
        return detail

    @staticmethod
    def from_detail(data: Mapping[str, Any]) -> Trigger:
        period = data.get("period")
        return Trigger(
            child=ParentRef(str(data["pipeline"]), str(data["account"])),
            trigger_id=str(data["trigger_id"]),
            causes=tuple(RunEvent.from_json(c) for c in data["causes"]),
            period=None if period is None else parse_period(str(period)),
        )


def parse_upstream(value: Any) -> frozenset[ParentRef]:
    """``["name@account", ...]`` (``dpc.upstream``, ``upstream`` in event JSON)."""
    if not isinstance(value, list | tuple):
        raise ValueError(f"upstream: expected a list of name@account, got {json.dumps(value)}")
    refs = set()
    for text in value:
        name, at, account = str(text).rpartition("@")
        if not at or not name:
            raise ValueError(f"upstream: '{text}' is not name@account")
        refs.add(ParentRef(name, account))
    return frozenset(refs)


def lineage(causes: Sequence[RunEvent]) -> frozenset[ParentRef]:
    """The pipelines upstream of a run started by these causes: theirs and their own."""
    return frozenset(c.pipeline for c in causes).union(*(c.upstream for c in causes))


def trigger_id(child: ParentRef, causes: Sequence[RunEvent], period: Period | None = None) -> str:
    """Rule 7 / P7: a function of the child, its causes (in any order) and, for a correlated
    child, the period it fired for. A cause's ``upstream`` is left out: it follows from the
    cause's execution, and trigger ids stay what they were before it was carried."""

    def cause_identity(cause: RunEvent) -> str:
        data = {k: v for k, v in cause.to_json().items() if k != "upstream"}
        return json.dumps(data, sort_keys=True)

    identity: dict[str, Any] = {
        "child": str(child),
        "causes": sorted(cause_identity(c) for c in causes),
    }
    if period is not None:
        identity["period"] = str(period)
    canonical = json.dumps(identity, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class PendingTrigger:
    """An outbox entry: recorded (exactly once) but not yet known to be published."""

    trigger: Trigger
    recorded_at: datetime


Block = Literal["allOf", "anyOf"]
Result = Literal["TRIGGERED", "NOT_MET", "IGNORED", "BLOCKED"]
"""BLOCKED: the condition held, but the child is upstream of its own causes (a cycle at run
time, which registration refuses and which is stopped here too); the causes are consumed."""


@dataclass(frozen=True)
class ItemVerdict:
    block: Block
    parent: ParentRef
    statuses: tuple[Status, ...]
    met: bool
    reason: str


@dataclass(frozen=True)
class Evaluation:
    """Rule 9 / P9: one evaluation of one child for one event, with the reason for every item.

    JSON (``to_json``, stored in the evaluation record's ``record`` attribute)::

        {"child": {"pipeline", "account"}, "event": <RunEvent JSON>, "result": "TRIGGERED" |
         "NOT_MET" | "IGNORED" | "BLOCKED", "evaluated_at": ISO, "trigger_id": str | null,
         "period": str | null (a correlated child's period), "notes": [str],
         "items": [{"block": "allOf" | "anyOf", "pipeline", "account", "statuses": [..],
         "met": bool, "reason": str}]}
    """

    child: ParentRef
    event: RunEvent
    result: Result
    evaluated_at: datetime
    items: tuple[ItemVerdict, ...] = ()
    notes: tuple[str, ...] = ()
    trigger_id: str | None = None
    period: Period | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "child": {"pipeline": self.child.name, "account": self.child.account},
            "event": self.event.to_json(),
            "result": self.result,
            "evaluated_at": format_time(self.evaluated_at),
            "trigger_id": self.trigger_id,
            "period": None if self.period is None else str(self.period),
            "notes": list(self.notes),
            "items": [
                {
                    "block": v.block,
                    "pipeline": v.parent.name,
                    "account": v.parent.account,
                    "statuses": list(v.statuses),
                    "met": v.met,
                    "reason": v.reason,
                }
                for v in self.items
            ],
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Evaluation:
        period = data.get("period")
        return Evaluation(
            child=ParentRef(data["child"]["pipeline"], data["child"]["account"]),
            event=RunEvent.from_json(data["event"]),
            result=data["result"],
            evaluated_at=parse_time(data["evaluated_at"]),
            trigger_id=data.get("trigger_id"),
            period=None if period is None else parse_period(str(period)),
            notes=tuple(data.get("notes", ())),
            items=tuple(
                ItemVerdict(
                    block=i["block"],
                    parent=ParentRef(i["pipeline"], i["account"]),
                    statuses=tuple(i["statuses"]),
                    met=bool(i["met"]),
                    reason=i["reason"],
                )
                for i in data.get("items", ())
            ),
        )
