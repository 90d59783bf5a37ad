"""The trigger rules for one child and one event: §5 (``correlate: latest``) and §5b
(``correlate: period``). Pure functions from (state, event) to (new state, records).

State is bounded either way. A ``latest`` child keeps ``last[r]`` per parent, the keys of the
few newest events applied (to skip a redelivered event after a crash), the clock of its last
evaluation and the newest reset tick applied (rule 8), and its outbox. A correlated child keeps
one such state per open period P: ``last[P][r]``, per-parent-period entries for ``every``
items, which executions fulfilled each item at its last firing, and the outbox; a period past
the horizon (P6) is dropped, so the state follows the open periods, not the history.

Rule 8, as read here: a reset closes a period. An event whose time is strictly before the
newest reset tick applied to a child is ignored for that child (recorded, never ``last[r]``):
a late delivery of yesterday's success must not pair with today's runs. An event exactly at
the tick belongs to the new period. A child that remembers no tick (no state yet: its first
evaluation, or after a re-registration wiped it) is in the period that began at the newest
tick at or before the clock, so the same applies to its very first event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache

from dpc.triggers.cron import CronExpression, parse_cron
from dpc.triggers.events import (
    Block,
    Evaluation,
    ItemVerdict,
    PendingTrigger,
    RunEvent,
    Trigger,
    lineage,
    trigger_id,
)
from dpc.triggers.model import STATUSES, Condition, Item, ParentRef
from dpc.triggers.periods import Period, period_containing, periods_inside
from dpc.triggers.timefmt import format_duration, readable

APPLIED_KEYS_PER_PARENT = 8
"""How many recently applied events per parent a child remembers (crash-resume dedupe)."""


@dataclass(frozen=True)
class ChildState:
    """A ``latest`` child's state, or a correlated child's state for one period."""

    version: int = 0
    """0 means "never stored"; every commit increments it (optimistic concurrency)."""
    last: Mapping[ParentRef, RunEvent] = field(default_factory=dict)
    applied: Mapping[ParentRef, tuple[str, ...]] = field(default_factory=dict)
    clock: datetime | None = None
    outbox: Mapping[str, PendingTrigger] = field(default_factory=dict)
    reset_at: datetime | None = None
    """The newest reset tick applied (rule 8): a run older than it belongs to a closed period."""
    every: Mapping[ParentRef, Mapping[str, RunEvent]] = field(default_factory=dict)
    """P2, ``every: true`` items: the newest event of r per parent period p inside P."""
    fired: Mapping[str, tuple[str, ...]] | None = None
    """P5: None until the child fired for P; then, per item fulfilled at the last firing
    (``allOf[0]``), the executions that fulfilled it."""
    expires_at: datetime | None = None
    """P6: when a period's state may be dropped (its end + keep); None for a latest child."""


@dataclass(frozen=True)
class Step:
    """What applying one event to one child produces: the state to commit (None: record the
    evaluation only, nothing of the child's state changes) and its records."""

    state: ChildState | None
    evaluation: Evaluation
    trigger: Trigger | None


def _holds(condition: Condition, verdicts: list[ItemVerdict]) -> bool:
    all_holds = all(v.met for v in verdicts if v.block == "allOf")
    any_holds = any(v.met for v in verdicts if v.block == "anyOf")
    if condition.all_of and condition.any_of:
        if condition.operator == "AND":
            return all_holds and any_holds
        return all_holds or any_holds
    return all_holds if condition.all_of else any_holds


def _blocks(condition: Condition) -> list[tuple[Block, int, Item]]:
    return [("allOf", i, item) for i, item in enumerate(condition.all_of)] + [
        ("anyOf", i, item) for i, item in enumerate(condition.any_of)
    ]


def _remember(state: ChildState, event: RunEvent) -> dict[ParentRef, tuple[str, ...]] | None:
    """The applied keys with this event's; None when the child already applied it (resume)."""
    keys = state.applied.get(event.pipeline, ())
    if event.key in keys:
        return None
    return {**state.applied, event.pipeline: (*keys, event.key)[-APPLIED_KEYS_PER_PARENT:]}


# -- §5: correlate: latest --------------------------------------------------------------------


@lru_cache(maxsize=256)
def _cron(expression: str) -> CronExpression:
    return parse_cron(expression)


def _latest_verdict(
    item: Item,
    block: Block,
    last: Mapping[ParentRef, RunEvent],
    event_time: datetime,
    within: timedelta | None,
) -> ItemVerdict:
    statuses = tuple(s for s in STATUSES if s in item.statuses)
    observed = last.get(item.parent)

    def verdict(met: bool, reason: str) -> ItemVerdict:
        return ItemVerdict(block, item.parent, statuses, met, reason)

    if observed is None:
        return verdict(False, f"waiting for {item.parent}: no run since the last trigger or reset")
    seen = f"{observed.status} at {readable(observed.time)} ({observed.execution})"
    if observed.status not in item.statuses:
        return verdict(
            False, f"waiting for {item.parent}: last run {seen}, wants {'|'.join(statuses)}"
        )
    if within is not None and event_time - observed.time > within:
        return verdict(
            False, f"{item.parent} {seen} is older than within={format_duration(within)}"
        )
    return verdict(True, f"{item.parent} {seen}")


def _latest_tick(cron: CronExpression, after: datetime, until: datetime) -> datetime | None:
    """The newest tick in (after, until]: several may have passed since the child's last event,
    and finding it must not cost one step per tick (a minutely cron over a long quiet spell)."""
    tick = cron.latest_at_or_before(until)
    return tick if tick is not None and tick > after else None


def apply_latest(
    state: ChildState, child: ParentRef, condition: Condition, event: RunEvent, now: datetime
) -> Step | None:
    """§5 rules 2-9 for one child. None when this child already applied the event (a resume)."""
    notes: list[str] = []
    last = dict(state.last)
    reset_at = state.reset_at
    if condition.reset_cron is not None:
        cron = _cron(condition.reset_cron)
        tick = None if state.clock is None else _latest_tick(cron, state.clock, now)
        if tick is not None:
            if last:
                notes.append(
                    f"reset at {readable(tick)} cleared partial match "
                    f"({', '.join(str(r) for r in sorted(last))})"
                )
            last = {}
            reset_at = tick
        if reset_at is None:
            # No state yet (first evaluation, or wiped by a re-registration): the child's
            # period still began at the last tick the clock passed, not at its first event.
            reset_at = cron.latest_at_or_before(now)
    clock = now if state.clock is None else max(state.clock, now)

    applied = _remember(state, event)
    if applied is None:
        return None

    def ignored(reason: str) -> Step:
        kept = replace(state, last=last, applied=applied, clock=clock, reset_at=reset_at)
        evaluation = Evaluation(child, event, "IGNORED", now, notes=(*notes, reason))
        return Step(kept, evaluation, None)

    # A late delivery (EventBridge retries for up to 24 hours) of a run from before the last
    # reset would otherwise become last[r] and pair with runs of the new period.
    if reset_at is not None and event.time < reset_at:
        return ignored(
            f"ignored: {event.pipeline} run at {readable(event.time)} ({event.execution}) "
            f"is older than the reset at {readable(reset_at)}"
        )
    previous = last.get(event.pipeline)
    if previous is not None and event.time < previous.time:
        return ignored(
            f"ignored: older than the latest {event.pipeline} run seen "
            f"({previous.status} at {readable(previous.time)}, {previous.execution})"
        )
    last[event.pipeline] = event

    verdicts = [
        _latest_verdict(item, block, last, event.time, condition.within)
        for block, _, item in _blocks(condition)
    ]
    if not _holds(condition, verdicts):
        new_state = replace(state, last=last, applied=applied, clock=clock, reset_at=reset_at)
        evaluation = Evaluation(child, event, "NOT_MET", now, tuple(verdicts), tuple(notes))
        return Step(new_state, evaluation, None)

    cause_parents = dict.fromkeys(v.parent for v in verdicts if v.met)
    causes = tuple(last[parent] for parent in cause_parents)
    new_state = replace(state, last={}, applied=applied, clock=clock, reset_at=reset_at)
    cycle = _cycle(child, causes)
    if cycle is not None:
        blocked = Evaluation(child, event, "BLOCKED", now, tuple(verdicts), (*notes, cycle))
        return Step(new_state, blocked, None)
    trigger = Trigger(child, trigger_id(child, causes), causes, condition.period.at(now))
    evaluation = Evaluation(
        child, event, "TRIGGERED", now, tuple(verdicts), tuple(notes), trigger.trigger_id
    )
    return Step(new_state, evaluation, trigger)


# -- §5b: correlate: period -------------------------------------------------------------------


def _cycle(child: ParentRef, causes: Sequence[RunEvent]) -> str | None:
    """Issue 11's run-time guard: the reason a child upstream of its own causes must not
    start (its run would trigger its causes' pipelines again, without end); registration
    refuses such cycles, this stops one that got past it (a registry edited by hand)."""
    if child not in lineage(causes):
        return None
    through = ", ".join(f"{c.pipeline} ({c.execution})" for c in causes if child in c.upstream)
    return (
        f"blocked: {child} is upstream of its own causes — starting it would close a cycle "
        f"through {through or child}"
    )


def event_period(event: RunEvent) -> Period:
    """An event's period; one without (an old record) counts as the day of its time (§5b)."""
    return event.period if event.period is not None else period_containing("day", event.time)


@dataclass(frozen=True)
class _PeriodVerdict:
    verdict: ItemVerdict
    fulfilled_by: tuple[RunEvent, ...]
    """The events that fulfil the item (empty when not met)."""


def _period_verdict(
    item: Item,
    block: Block,
    period: Period,
    state_last: Mapping[ParentRef, RunEvent],
    state_every: Mapping[ParentRef, Mapping[str, RunEvent]],
) -> _PeriodVerdict:
    statuses = tuple(s for s in STATUSES if s in item.statuses)
    wants = "|".join(statuses)

    def verdict(met: bool, reason: str, by: tuple[RunEvent, ...] = ()) -> _PeriodVerdict:
        return _PeriodVerdict(ItemVerdict(block, item.parent, statuses, met, reason), by)

    if not item.every:
        observed = state_last.get(item.parent)
        if observed is None:
            return verdict(False, f"waiting for {item.parent}: no run for {period}")
        seen = f"{observed.status} at {readable(observed.time)} ({observed.execution})"
        if observed.status not in item.statuses:
            return verdict(False, f"waiting for {item.parent}: {period} run {seen}, wants {wants}")
        return verdict(True, f"{item.parent} {period}: {seen}", (observed,))
    entries = state_every.get(item.parent, {})
    if not entries:
        return verdict(False, f"waiting for {item.parent}: no run for any period of {period}")
    unit = event_period(next(iter(entries.values()))).unit
    expected = list(periods_inside(period, unit)) or [period_containing(unit, period.start)]
    missing = [p for p in expected if str(p) not in entries]
    wrong = [
        entries[str(p)]
        for p in expected
        if str(p) in entries and entries[str(p)].status not in item.statuses
    ]
    if missing or wrong:
        detail = []
        if missing:
            shown = ", ".join(str(p) for p in missing[:3]) + (" …" if len(missing) > 3 else "")
            detail.append(f"{len(missing)} of {len(expected)} {unit}s without a run ({shown})")
        if wrong:
            first = wrong[0]
            detail.append(
                f"{len(wrong)} not {wants} (e.g. {event_period(first)} {first.status}, "
                f"{first.execution})"
            )
        return verdict(False, f"waiting for {item.parent} in {period}: {'; '.join(detail)}")
    runs = tuple(entries[str(p)] for p in expected)
    return verdict(True, f"{item.parent}: all {len(expected)} {unit}s of {period} {wants}", runs)


def apply_period(
    state: ChildState,
    child: ParentRef,
    condition: Condition,
    event: RunEvent,
    period: Period,
    now: datetime,
) -> Step | None:
    """§5b P2-P7 for one child and the period ``period`` the event maps to (P1)."""
    applied = _remember(state, event)
    if applied is None:
        return None
    clock = now if state.clock is None else max(state.clock, now)
    parent = event.pipeline
    last = dict(state.last)
    every = {r: dict(entries) for r, entries in state.every.items()}
    changed = False
    previous = last.get(parent)
    if previous is None or event.time >= previous.time:
        last[parent] = event
        changed = True
    if any(item.every and item.parent == parent for item in condition.items):
        entries = every.setdefault(parent, {})
        key = str(event_period(event))
        if key not in entries or event.time >= entries[key].time:
            entries[key] = event
            changed = True
    state = replace(state, applied=applied, clock=clock, expires_at=period.end + condition.keep)
    if not changed:
        assert previous is not None
        reason = (
            f"ignored: older than the {period} {parent} run seen "
            f"({previous.status} at {readable(previous.time)}, {previous.execution})"
        )
        return Step(
            state, Evaluation(child, event, "IGNORED", now, notes=(reason,), period=period), None
        )
    state = replace(state, last=last, every=every)
    judged = {
        f"{block}[{index}]": _period_verdict(item, block, period, last, every)
        for block, index, item in _blocks(condition)
    }
    verdicts = tuple(j.verdict for j in judged.values())
    if not _holds(condition, list(verdicts)):
        return Step(state, Evaluation(child, event, "NOT_MET", now, verdicts, period=period), None)
    fulfilled = {
        key: tuple(e.execution for e in j.fulfilled_by)
        for key, j in judged.items()
        if j.verdict.met
    }
    notes: tuple[str, ...] = ()
    if state.fired is not None:
        if condition.rerun == "ignore":
            reason = f"condition holds, but {child} already ran for {period} (rerun: ignore)"
            return Step(
                state,
                Evaluation(child, event, "IGNORED", now, verdicts, (reason,), period=period),
                None,
            )
        rerun = [
            key
            for key, executions in state.fired.items()
            if key in fulfilled and fulfilled[key] != executions
        ]
        if not rerun:
            reason = (
                f"condition holds, but {child} already ran for {period} on these parent runs "
                "(only a rerun of one of them starts it again)"
            )
            return Step(
                state,
                Evaluation(child, event, "IGNORED", now, verdicts, (reason,), period=period),
                None,
            )
        notes = (
            f"rerun for {period}: "
            + ", ".join(
                f"{judged[key].verdict.parent} now {', '.join(fulfilled[key])}" for key in rerun
            ),
        )
    causes = tuple(dict.fromkeys(e for j in judged.values() for e in j.fulfilled_by))
    state = replace(state, fired=fulfilled)
    cycle = _cycle(child, causes)
    if cycle is not None:
        blocked = Evaluation(child, event, "BLOCKED", now, verdicts, (*notes, cycle), period=period)
        return Step(state, blocked, None)
    trigger = Trigger(child, trigger_id(child, causes, period), causes, period)
    evaluation = Evaluation(
        child, event, "TRIGGERED", now, verdicts, notes, trigger.trigger_id, period
    )
    return Step(state, evaluation, trigger)
