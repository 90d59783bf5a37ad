"""`dpc simulate --history` (issue 14 item 5): the recorded runs replayed through a changed
folder's rules, and each difference named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dpc.observe.history import differences
from dpc.observe.runlog import Run
from dpc.triggers.model import Condition, Item, ParentRef
from dpc.triggers.periods import PeriodSpec

PARENT, CHILD = ParentRef("listings", "111111111111"), ParentRef("report", "333333333333")
MORNING = datetime(2026, 11, 27, 3, tzinfo=UTC)


def _runs(child_period: str = "2026-11-27") -> list[Run]:
    parent = Run(
        PARENT,
        "s-1",
        "SUCCEEDED",
        MORNING,
        MORNING + timedelta(minutes=10),
        None,
        (),
        True,
        "2026-11-27",
    )
    cause = {
        "pipeline": "listings",
        "account": PARENT.account,
        "execution": "s-1",
        "status": "SUCCEEDED",
    }
    child = Run(
        CHILD,
        "t-1",
        "SUCCEEDED",
        MORNING + timedelta(minutes=11),
        MORNING + timedelta(minutes=30),
        "t-1",
        (cause,),
        False,
        child_period,
    )
    return [parent, child]


def _on(status: str, **condition: object) -> dict[ParentRef, Condition]:
    item = Item(PARENT, frozenset({status}))  # type: ignore[arg-type]
    return {CHILD: Condition(all_of=(item,), **condition)}  # type: ignore[arg-type]


def test_the_rules_that_ran_replay_to_no_difference() -> None:
    assert differences(_on("SUCCEEDED"), _runs()) == []


def test_a_condition_no_longer_met_would_not_have_started_the_run() -> None:
    (difference,) = differences(_on("FAILED"), _runs())
    assert (difference.kind, difference.pipeline, difference.period) == (
        "would not start",
        CHILD,
        "2026-11-27",
    )
    assert difference.execution == "t-1"
    assert difference.causes == (f"{PARENT} s-1",)


def test_a_new_offset_starts_the_same_run_for_another_period() -> None:
    changed = _on("SUCCEEDED", period=PeriodSpec("day", -timedelta(days=1)))
    (difference,) = differences(changed, _runs())
    assert difference.kind == "another period"
    assert (difference.period, difference.actual_period) == ("2026-11-26", "2026-11-27")
    assert str(difference) == (
        f"{CHILD} would have run for 2026-11-26 instead of 2026-11-27 (t-1) after {PARENT} s-1"
    )
