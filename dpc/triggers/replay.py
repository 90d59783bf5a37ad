"""Replaying an event stream under §5's simulated clock (rule 8), for ``dpc simulate`` and tests.

The clock starts at the first event's time and, before each event, moves to
max(clock, event time); the engine applies any reset tick between a child's last evaluation
and that clock, which is the same as applying every tick as the clock passes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime

from dpc.triggers.engine import Outcome, TriggerEngine
from dpc.triggers.events import RunEvent
from dpc.triggers.model import Condition, ParentRef

Children = Mapping[ParentRef, Sequence[tuple[ParentRef, Condition]]]


def children_index(
    conditions: Mapping[ParentRef, Condition],
) -> dict[ParentRef, list[tuple[ParentRef, Condition]]]:
    """parent → [(child, child's condition)], the registry's parents → children view."""
    index: dict[ParentRef, list[tuple[ParentRef, Condition]]] = {}
    for child, condition in conditions.items():
        for parent in condition.parents:
            index.setdefault(parent, []).append((child, condition))
    return index


def replay(
    events: Iterable[RunEvent], process: Callable[[RunEvent, datetime], Outcome]
) -> Iterator[tuple[int, Outcome]]:
    """Yield (0-based event number, outcome) for each event, in arrival order."""
    clock: datetime | None = None
    for number, event in enumerate(events):
        clock = event.time if clock is None else max(clock, event.time)
        yield number, process(event, clock)


def replay_in_memory(
    conditions: Mapping[ParentRef, Condition], events: Sequence[RunEvent]
) -> Iterator[tuple[int, Outcome]]:
    """``dpc simulate --backend memory``: the engine on a fresh in-memory store."""
    from dpc.triggers.memory import CollectingPublisher, MemoryStore

    engine = TriggerEngine(MemoryStore(), CollectingPublisher())
    yield from replay(events, engine_process(engine, children_index(conditions)))


def engine_process(
    engine: TriggerEngine, children: Children
) -> Callable[[RunEvent, datetime], Outcome]:
    """The memory backend's per-event step: the engine with the org's children of the parent."""

    def process(event: RunEvent, now: datetime) -> Outcome:
        return engine.process(event, children.get(event.pipeline, ()), now)

    return process
