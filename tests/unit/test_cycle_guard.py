"""Issue 11's run-time cycle guard: a trigger carries its run's lineage (``upstream``), and
a child upstream of its own causes is BLOCKED, not started, under both correlation modes."""

from __future__ import annotations

from dataclasses import replace

from dpc.lambdas.starter import request_of
from dpc.observe.views import headline
from dpc.triggers.engine import TriggerEngine
from dpc.triggers.events import RunEvent, Trigger, trigger_id
from dpc.triggers.memory import CollectingPublisher, MemoryStore
from dpc.triggers.model import Condition, Item, ParentRef, Status
from dpc.triggers.periods import PeriodSpec, parse_period
from dpc.triggers.timefmt import parse_time

A = ParentRef("a", "111111111111")
B = ParentRef("b", "222222222222")
C = ParentRef("c", "333333333333")
SUCCESS: frozenset[Status] = frozenset({"SUCCEEDED"})
DAY = parse_period("2026-11-27")


def succeeded(time: str, pipeline: ParentRef, execution: str, *upstream: ParentRef) -> RunEvent:
    return RunEvent(
        parse_time(time), pipeline, "SUCCEEDED", execution, DAY, upstream=frozenset(upstream)
    )


def engine() -> tuple[TriggerEngine, CollectingPublisher]:
    publisher = CollectingPublisher()
    return TriggerEngine(MemoryStore(), publisher), publisher


def test_a_trigger_carries_the_lineage_of_its_causes_into_the_childs_input() -> None:
    # Given c fires on a run of b that a's run had triggered
    cause = succeeded("2026-11-27T05:00:00Z", B, "t-1", A)
    trigger = Trigger(C, trigger_id(C, (cause,), DAY), (cause,), DAY)
    # Then the trigger says c's run is downstream of b and a, and the starter passes it on
    assert trigger.detail()["upstream"] == [str(A), str(B)]
    request = request_of({"kind": "trigger", "detail": trigger.detail()}, PeriodSpec("day"))
    assert request.input["dpc"]["upstream"] == [str(A), str(B)]
    # and the lineage does not change the trigger's id (rule 7: same child, causes, period)
    assert trigger.trigger_id == trigger_id(C, (replace(cause, upstream=frozenset()),), DAY)


def test_a_child_upstream_of_its_own_cause_is_blocked_and_says_why() -> None:
    for condition in (
        Condition(all_of=(Item(B, SUCCESS),)),
        Condition(all_of=(Item(B, SUCCESS),), correlate="period"),
    ):
        run, publisher = engine()
        # Given a run of b that a's run triggered (a → b), and a wrongly waiting on b too
        looped = succeeded("2026-11-27T05:00:00Z", B, "t-from-a", A)
        outcome = run.process(looped, [(A, condition)], looped.time)
        # Then a does not start again: the evaluation is BLOCKED, naming the cycle
        assert publisher.published == []
        (evaluation,) = outcome.evaluations
        assert evaluation.result == "BLOCKED"
        assert "would close a cycle through b@222222222222 (t-from-a)" in evaluation.notes[-1]
        assert "did not run" in headline(A, evaluation)
        # and a run of b that nobody upstream started still starts a
        clean = succeeded("2026-11-27T06:00:00Z", B, "s-27")
        run.process(clean, [(A, condition)], clean.time)
        assert [t.causes for t in publisher.published] == [(clean,)]
