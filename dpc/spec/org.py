"""A folder of pipelines seen as one organisation: who depends on whom, and what cannot work
(a parent nobody defines, a cycle, two pipelines claiming the same name and account, a
parent whose ``dependents`` does not admit the child's account — the registry would refuse
that child's deploy, so validate says it first)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from dpc.spec.errors import Finding
from dpc.spec.model import Pipeline
from dpc.spec.source import Document
from dpc.triggers.model import ParentRef
from dpc.triggers.periods import coarser, nests


def ref_of(pipeline: Pipeline) -> ParentRef:
    """A pipeline's reference; "" as the account when pipeline.yaml leaves it to the deploy."""
    return ParentRef(pipeline.name, pipeline.account or "")


def show(ref: ParentRef) -> str:
    return str(ref) if ref.account else ref.name


@dataclass(frozen=True)
class Org:
    """Pipelines by reference, and each parent's children, for the engine, simulate and graph."""

    pipelines: tuple[Pipeline, ...]
    by_ref: Mapping[ParentRef, Pipeline]
    _children: Mapping[ParentRef, tuple[Pipeline, ...]] = field(repr=False)

    @classmethod
    def of(cls, pipelines: Sequence[Pipeline]) -> Org:
        children: dict[ParentRef, list[Pipeline]] = {}
        for pipeline in pipelines:
            condition = pipeline.trigger.executions
            for parent in condition.parents if condition else ():
                children.setdefault(parent, []).append(pipeline)
        return cls(
            pipelines=tuple(pipelines),
            by_ref=MappingProxyType({ref_of(pipeline): pipeline for pipeline in pipelines}),
            _children=MappingProxyType({ref: tuple(kids) for ref, kids in children.items()}),
        )

    def children_of(self, ref: ParentRef) -> tuple[Pipeline, ...]:
        """Pipelines with ``ref`` in their allOf or anyOf, in folder order."""
        return self._children.get(ref, ())


def org_findings(located: Sequence[tuple[Pipeline, Document]]) -> list[Finding]:
    """Cross-pipeline findings, each located at the item (or name) in the file concerned."""
    findings: list[Finding] = []
    by_ref: dict[ParentRef, tuple[Pipeline, Document]] = {}
    for pipeline, document in located:
        ref = ref_of(pipeline)
        if ref in by_ref:
            findings.append(
                document.finding(
                    ("name",),
                    f"pipeline '{show(ref)}' is also defined in {by_ref[ref][1].file}",
                )
            )
            continue
        by_ref[ref] = (pipeline, document)
    names: dict[str, list[ParentRef]] = {}
    for ref in by_ref:
        names.setdefault(ref.name, []).append(ref)

    edges: dict[ParentRef, list[ParentRef]] = {ref: [] for ref in by_ref}
    for ref, (pipeline, document) in by_ref.items():
        for path, parent in _items(pipeline):
            if parent in by_ref:
                edges[ref].append(parent)
                for problem in (
                    _unit_problem(pipeline, by_ref[parent][0], path),
                    _admission_problem(pipeline, by_ref[parent][0]),
                ):
                    if problem is not None:
                        findings.append(document.finding(path, problem))
                continue
            elsewhere = [show(other) for other in names.get(parent.name, [])]
            hint = f"; defined as {', '.join(elsewhere)}" if elsewhere else ""
            findings.append(
                document.finding(
                    path,
                    f"unknown parent '{show(parent)}': no pipeline here has this name "
                    f"and account{hint}",
                )
            )
    for cycle in _cycles(edges):
        text = " → ".join(show(ref) for ref in (*cycle, cycle[0]))
        for position, ref in enumerate(cycle):
            pipeline, document = by_ref[ref]
            successor = cycle[(position + 1) % len(cycle)]
            path = next(path for path, parent in _items(pipeline) if parent == successor)
            findings.append(document.finding(path, f"dependency cycle: {text}"))
    return findings


def _unit_problem(child: Pipeline, parent: Pipeline, path: tuple[str | int, ...]) -> str | None:
    """§5b: a correlated child's parent has the child's unit or a finer one that nests in it,
    and a finer one is counted period by period (``every: true``)."""
    condition = child.trigger.executions
    if condition is None or not condition.correlated:
        return None
    block, index = path[-2], path[-1]
    items = condition.all_of if block == "allOf" else condition.any_of
    item = items[int(index)]
    mine, theirs = child.period.unit, parent.period.unit
    name = show(ref_of(parent))
    if coarser(theirs, mine):
        return (
            f"parent '{name}' runs per {theirs}, coarser than this pipeline's {mine}: "
            f"with correlate: period a parent's unit must be {mine} or finer"
        )
    if not nests(theirs, mine):
        return (
            f"parent '{name}' runs per {theirs}, and weeks do not nest in months: "
            "give this pipeline or the parent another unit"
        )
    if theirs != mine and not item.every:
        return (
            f"parent '{name}' runs per {theirs}, finer than this pipeline's {mine}: add "
            f"every: true (all of its {theirs}s of a {mine} must meet the statuses)"
        )
    return None


def _admission_problem(child: Pipeline, parent: Pipeline) -> str | None:
    """The registry's ``dependents`` rule; undecidable (and so not reported) while either
    account is left to the deploy credentials."""
    if child.account is None or parent.account is None or parent.admits(child.account):
        return None
    listed = ", ".join(sorted(parent.dependents or ())) or "none"
    return (
        f"parent '{show(ref_of(parent))}' does not accept dependents from account "
        f"{child.account} (its dependents.accounts: {listed}); its owners can add it"
    )


def _items(pipeline: Pipeline) -> Iterator[tuple[tuple[str | int, ...], ParentRef]]:
    condition = pipeline.trigger.executions
    if condition is None:
        return
    for block, items in (("allOf", condition.all_of), ("anyOf", condition.any_of)):
        for index, item in enumerate(items):
            yield ("trigger", "executions", block, index), item.parent


def _cycles(edges: Mapping[ParentRef, list[ParentRef]]) -> list[tuple[ParentRef, ...]]:
    """One cycle per strongly connected component (Tarjan, iterative: an org may chain
    thousands of pipelines, deeper than Python's recursion limit)."""
    index: dict[ParentRef, int] = {}
    low: dict[ParentRef, int] = {}
    on_stack: set[ParentRef] = set()
    stack: list[ParentRef] = []
    cycles: list[tuple[ParentRef, ...]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[ParentRef, int]] = [(root, 0)]
        while work:
            node, next_edge = work.pop()
            if next_edge == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            successors = edges[node]
            if next_edge < len(successors):
                work.append((node, next_edge + 1))
                successor = successors[next_edge]
                if successor not in index:
                    work.append((successor, 0))
                elif successor in on_stack:
                    low[node] = min(low[node], index[successor])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: set[ParentRef] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(_cycle_in(component, edges))
    return cycles


def _cycle_in(
    component: set[ParentRef], edges: Mapping[ParentRef, list[ParentRef]]
) -> tuple[ParentRef, ...]:
    """The shortest cycle through the component's smallest member (breadth-first)."""
    start = min(component)
    came_from: dict[ParentRef, ParentRef] = {}
    frontier = [start]
    while frontier:
        following: list[ParentRef] = []
        for node in frontier:
            for successor in edges[node]:
                if successor == start:
                    cycle = [node]
                    while cycle[-1] != start:
                        cycle.append(came_from[cycle[-1]])
                    return tuple(reversed(cycle))
                if successor in component and successor not in came_from:
                    came_from[successor] = node
                    following.append(successor)
        frontier = following
    raise AssertionError("a strongly connected component always has a cycle through each member")
