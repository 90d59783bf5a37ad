"""The lineage graph: pipelines as nodes, "waits for" relations as labelled edges.

Built once, rendered in several formats, so Mermaid, DOT and HTML always agree on what
the org looks like.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from dpc.spec.model import Pipeline
from dpc.triggers.model import STATUSES, Condition, Item, ParentRef

Block = Literal["allOf", "anyOf"]

UNKNOWN_ACCOUNT = "deploy account"
"""Shown for a pipeline.yaml without ``account``: it lands in whatever account deploys it."""


@dataclass(frozen=True)
class Node:
    ref: ParentRef
    schedule: str | None = None
    condition: str | None = None
    """A one-line summary of the executions trigger, e.g. ``allOf AND anyOf · within 24h``."""
    description: str = ""
    status: str | None = None
    """The last run's status (``dpc graph --central``); None when unknown or not asked for."""
    declared: bool = True
    """False for a parent that is waited for but is not in the org folder or the registry."""

    @property
    def key(self) -> str:
        return str(self.ref)


@dataclass(frozen=True)
class Edge:
    parent: ParentRef
    child: ParentRef
    block: Block
    statuses: tuple[str, ...]
    """Step Functions spellings, in the order of ``STATUSES``."""

    @property
    def label(self) -> str:
        return f"{self.block}: {'|'.join(self.statuses)}"


@dataclass(frozen=True)
class Lineage:
    nodes: tuple[Node, ...]
    """Sorted by account, then name: stable output for diffs and tests."""
    edges: tuple[Edge, ...]

    @property
    def accounts(self) -> tuple[str, ...]:
        return tuple(sorted({node.ref.account for node in self.nodes}))

    def layers(self) -> dict[ParentRef, int]:
        """Dependency depth: 0 for a pipeline that waits for nobody, else 1 + its deepest parent.

        A cycle (only possible in a hand-edited registry; the org loader refuses them) does not
        hang the layout: its members go one layer past everything else.
        """
        parents: dict[ParentRef, set[ParentRef]] = {node.ref: set() for node in self.nodes}
        children: dict[ParentRef, set[ParentRef]] = {node.ref: set() for node in self.nodes}
        for edge in self.edges:
            parents[edge.child].add(edge.parent)
            children[edge.parent].add(edge.child)
        waiting = {ref: len(refs) for ref, refs in parents.items()}
        layer: dict[ParentRef, int] = {}
        ready = sorted(ref for ref, count in waiting.items() if count == 0)
        while ready:
            ref = ready.pop()
            layer[ref] = 1 + max((layer[p] for p in parents[ref]), default=-1)
            for child in sorted(children[ref]):
                waiting[child] -= 1
                if waiting[child] == 0:
                    ready.append(child)
        beyond = 1 + max(layer.values(), default=-1)
        for ref in parents:
            layer.setdefault(ref, beyond)
        return layer


def build(
    pipelines: Iterable[Pipeline], statuses: Mapping[ParentRef, str] | None = None
) -> Lineage:
    """The graph of ``pipelines``; parents outside them still appear, marked undeclared."""
    statuses = statuses or {}
    nodes: dict[ParentRef, Node] = {}
    edges: list[Edge] = []
    for pipeline in pipelines:
        if pipeline.account is None:
            pipeline = pipeline.with_account(UNKNOWN_ACCOUNT)
        condition = pipeline.trigger.executions
        schedule = pipeline.trigger.schedule
        nodes[pipeline.ref] = Node(
            ref=pipeline.ref,
            schedule=schedule.expression if schedule else None,
            condition=_summary(condition) if condition else None,
            description=pipeline.description,
            status=statuses.get(pipeline.ref),
        )
        if condition is None:
            continue
        for block, items in _blocks(condition):
            for item in items:
                ordered = tuple(s for s in STATUSES if s in item.statuses)
                edges.append(Edge(item.parent, pipeline.ref, block, ordered))
    for edge in edges:
        if edge.parent not in nodes:
            nodes[edge.parent] = Node(
                ref=edge.parent, status=statuses.get(edge.parent), declared=False
            )
    ordered_nodes = tuple(sorted(nodes.values(), key=lambda n: (n.ref.account, n.ref.name)))
    ordered_edges = tuple(sorted(edges, key=lambda e: (e.child, e.block, e.parent)))
    return Lineage(ordered_nodes, ordered_edges)


def _blocks(condition: Condition) -> tuple[tuple[Block, tuple[Item, ...]], ...]:
    return (("allOf", condition.all_of), ("anyOf", condition.any_of))


def _summary(condition: Condition) -> str:
    blocks = [name for name, items in _blocks(condition) if items]
    parts = [f" {condition.operator} ".join(blocks)]
    if condition.within is not None:
        parts.append(f"within {_duration(condition.within)}")
    if condition.reset_cron is not None:
        parts.append(f"reset cron({condition.reset_cron})")
    if condition.correlated:
        rerun = "" if condition.rerun == "retrigger" else ", reruns ignored"
        parts.append(f"per {condition.period.unit}{rerun}")
    return " · ".join(parts)


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


COLLAPSE_ABOVE = 200
"""More pipelines than this are drawn one box per account (``dpc graph --collapse auto``):
at 2,000 pipelines one box each makes a page no one can read."""
_WORST_FIRST = (
    "failed",
    "FAILED",
    "TIMED_OUT",
    "ABORTED",
    "late",
    "running",
    "RUNNING",
    "waiting",
    "done",
    "SUCCEEDED",
)


def collapse(lineage: Lineage) -> Lineage:
    """One node per account — its pipelines counted by state, coloured by the worst — and
    one edge per pair of accounts, labelled with how many dependencies it stands for."""
    by_account: dict[str, list[Node]] = {}
    for node in lineage.nodes:
        by_account.setdefault(node.ref.account, []).append(node)
    refs: dict[str, ParentRef] = {}
    nodes: list[Node] = []
    for account, members in sorted(by_account.items()):
        declared = [n for n in members if n.declared]
        counts: dict[str, int] = {}
        for node in declared:
            if node.status:
                counts[node.status] = counts.get(node.status, 0) + 1
        worst = next((s for s in _WORST_FIRST if s in counts), None)
        ref = ParentRef(f"{len(declared)} pipeline{'s' * (len(declared) != 1)}", account)
        refs[account] = ref
        nodes.append(
            Node(
                ref=ref,
                condition=" · ".join(f"{counts[s]} {s}" for s in _WORST_FIRST if s in counts)
                or None,
                description=", ".join(n.ref.name for n in declared),
                status=worst,
                declared=bool(declared),
            )
        )
    pairs: dict[tuple[str, str, Block], int] = {}
    for edge in lineage.edges:
        if edge.parent.account != edge.child.account:
            key = (edge.parent.account, edge.child.account, edge.block)
            pairs[key] = pairs.get(key, 0) + 1
    edges = tuple(
        Edge(refs[parent], refs[child], block, (f"{count} dependencies",))
        for (parent, child, block), count in sorted(pairs.items())
    )
    return Lineage(tuple(nodes), edges)
