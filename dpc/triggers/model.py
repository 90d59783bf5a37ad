"""The trigger-condition model shared by the spec loader, the engine and the infrastructure.

Statuses are always Step Functions spellings here; the spec loader maps ``SUCCESS`` to
``SUCCEEDED`` at the boundary so nothing downstream has to know both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from dpc.triggers.periods import DEFAULT_KEEP, PeriodSpec

Status = Literal["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]
STATUSES: tuple[Status, ...] = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
TERMINAL_STATUSES: frozenset[str] = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})

Operator = Literal["AND", "OR"]
Correlate = Literal["latest", "period"]
"""latest: §5, the newest run of each parent; period: §5b, the parents' runs of one period."""
Rerun = Literal["retrigger", "ignore"]


@dataclass(frozen=True, order=True)
class ParentRef:
    """A pipeline is identified by its name *and* the account that owns it."""

    name: str
    account: str

    def __str__(self) -> str:
        return f"{self.name}@{self.account}"


@dataclass(frozen=True)
class Item:
    """One entry of allOf/anyOf: fulfilled when the parent's latest run has one of ``statuses``."""

    parent: ParentRef
    statuses: frozenset[Status]
    every: bool = False
    """§5b P3: every period of the parent's (finer) unit inside the child's period."""


@dataclass(frozen=True)
class Condition:
    """An ``executions`` trigger: allOf and/or anyOf items, combined by ``operator``."""

    all_of: tuple[Item, ...] = ()
    any_of: tuple[Item, ...] = ()
    operator: Operator = "AND"
    within: timedelta | None = None
    reset_cron: str | None = None
    correlate: Correlate = "latest"
    rerun: Rerun = "retrigger"
    keep: timedelta = DEFAULT_KEEP
    period: PeriodSpec = field(default_factory=PeriodSpec)
    """The child's own period: the unit its parents' periods map to (§5b P1), and, for a
    ``latest`` child, the period of a triggered run (trigger time + offset)."""

    @property
    def correlated(self) -> bool:
        return self.correlate == "period"

    @property
    def items(self) -> tuple[Item, ...]:
        return self.all_of + self.any_of

    @property
    def parents(self) -> tuple[ParentRef, ...]:
        """Distinct parents, in first-mention order."""
        seen: dict[ParentRef, None] = {}
        for item in self.items:
            seen.setdefault(item.parent, None)
        return tuple(seen)
