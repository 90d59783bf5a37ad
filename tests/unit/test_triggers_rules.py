"""DESIGN §5, one rule at a time, on the in-memory store: read as the specification."""

from __future__ import annotations

from datetime import timedelta

from dpc.triggers.engine import TriggerEngine
from dpc.triggers.events import Evaluation, RunEvent, Trigger, trigger_id
from dpc.triggers.memory import CollectingPublisher, MemoryStore
from dpc.triggers.model import Condition, Item, ParentRef, Status
from dpc.triggers.replay import children_index, engine_process, replay
from dpc.triggers.timefmt import parse_time

LISTINGS = ParentRef("listings", "111111111111")
SEARCHES = ParentRef("searches", "222222222222")
CLICKS = ParentRef("clicks", "444444444444")
X = ParentRef("pipeline-x", "333333333333")
SUCCESS: frozenset[Status] = frozenset({"SUCCEEDED"})


def both_succeed(**options: object) -> Condition:
    items = (Item(LISTINGS, SUCCESS), Item(SEARCHES, SUCCESS))
    return Condition(all_of=items, **options)  # type: ignore[arg-type]


def ev(time: str, parent: ParentRef, status: Status, execution: str) -> RunEvent:
    return RunEvent(parse_time(time), parent, status, execution)


class Run:
    """Replays events for some children and keeps what a user would look at."""

    def __init__(self, conditions: dict[ParentRef, Condition], events: list[RunEvent]) -> None:
        self.store = MemoryStore()
        engine = TriggerEngine(self.store, CollectingPublisher())
        process = engine_process(engine, children_index(conditions))
        self.fired: list[tuple[int, Trigger]] = [
            (number, trigger)
            for number, outcome in replay(events, process)
            for trigger in outcome.published
        ]

    @property
    def event_numbers(self) -> list[int]:
        return [number for number, _ in self.fired]

    def evaluations_of(self, child: ParentRef) -> list[Evaluation]:
        return [e for e in self.store.evaluations if e.child == child]


def test_rule_1_a_redelivered_event_changes_nothing_even_after_a_trigger() -> None:
    # Given both parents succeed, each delivered twice
    listings = ev("2026-11-27T03:05:00Z", LISTINGS, "SUCCEEDED", "l-27")
    searches = ev("2026-11-27T05:10:00Z", SEARCHES, "SUCCEEDED", "s-27")
    # When the duplicates arrive after the trigger (and would form a pair again)
    run = Run({X: both_succeed()}, [listings, listings, searches, listings, searches])
    # Then pipeline-x runs once, and the duplicates were never evaluated
    assert run.event_numbers == [2]
    assert len(run.evaluations_of(X)) == 2


def test_rule_2_running_never_replaces_a_terminal_status_of_the_same_execution() -> None:
    run = Run(
        {X: both_succeed()},
        [
            ev("2026-11-27T03:05:00Z", LISTINGS, "SUCCEEDED", "l-27"),
            ev("2026-11-27T03:00:00Z", LISTINGS, "RUNNING", "l-27"),  # late RUNNING of the same run
            ev("2026-11-27T05:10:00Z", SEARCHES, "SUCCEEDED", "s-27"),
        ],
    )
    assert run.event_numbers == [2]


def test_rule_2_an_older_event_of_a_parent_does_not_replace_its_newer_one() -> None:
    run = Run(
        {X: both_succeed()},
        [
            ev("2026-11-27T03:05:00Z", LISTINGS, "SUCCEEDED", "l-27b"),
            ev("2026-11-27T02:00:00Z", LISTINGS, "FAILED", "l-27a"),  # arrives late
            ev("2026-11-27T05:10:00Z", SEARCHES, "SUCCEEDED", "s-27"),
        ],
    )
    assert run.event_numbers == [2]
    assert run.fired[0][1].causes[0].execution == "l-27b"
    assert run.evaluations_of(X)[1].result == "IGNORED"


def test_equal_times_the_later_arrival_wins() -> None:
    run = Run(
        {X: both_succeed()},
        [
            ev("2026-11-27T03:05:00Z", LISTINGS, "SUCCEEDED", "l-a"),
            ev("2026-11-27T03:05:00Z", LISTINGS, "FAILED", "l-b"),
            ev("2026-11-27T05:10:00Z", SEARCHES, "SUCCEEDED", "s-27"),
        ],
    )
    assert run.fired == []


def test_rule_3_within_rejects_a_parent_success_older_than_the_window() -> None:
    run = Run(
        {X: both_succeed(within=timedelta(hours=24))},
        [
            ev("2026-11-27T03:05:00Z", LISTINGS, "SUCCEEDED", "l-27"),
            ev("2026-11-28T05:10:00Z", SEARCHES, "SUCCEEDED", "s-28"),  # 26 h later
            ev("2026-11-28T03:05:00Z", LISTINGS, "SUCCEEDED", "l-28"),
        ],
    )
    assert run.event_numbers == [2]
    unmet = [i.reason for i in run.evaluations_of(X)[1].items if not i.met]
    assert unmet == [
        "listings@111111111111 SUCCEEDED at 2026-11-27 03:05 UTC (l-27) is older than within=24h"
    ]


def test_rule_3_within_boundary_is_inclusive() -> None:
    run = Run(
        {X: both_succeed(within=timedelta(hours=24))},
        [
            ev("2026-11-27T03:05:00Z", LISTINGS, "SUCCEEDED", "l-27"),
            ev("2026-11-28T03:05:00Z", SEARCHES, "SUCCEEDED", "s-28"),
        ],
    )
    assert run.event_numbers == [1]


def test_rule_4_any_of_needs_one_item() -> None:
    any_of = Condition(any_of=(Item(LISTINGS, SUCCESS), Item(SEARCHES, SUCCESS)))
    run = Run({X: any_of}, [ev("2026-11-27T05:10:00Z", SEARCHES, "SUCCEEDED", "s-27")])
    assert run.event_numbers == [0]


def test_rule_4_operator_and_or_combine_the_blocks() -> None:
    blocks = {
        "all_of": (Item(LISTINGS, SUCCESS),),
        "any_of": (Item(SEARCHES, SUCCESS), Item(CLICKS, SUCCESS)),
    }
    events = [ev("2026-11-27T03:05:00Z", LISTINGS, "SUCCEEDED", "l-27")]
    and_run = Run({X: Condition(operator="AND", **blocks)}, events)  # type: ignore[arg-type]
    or_run = Run({X: Condition(operator="OR", **blocks)}, events)  # type: ignore[arg-type]
    assert and_run.fired == []
    assert or_run.event_numbers == [0]
    more = [*events, ev("2026-11-27T04:00:00Z", CLICKS, "SUCCEEDED", "c-27")]
    assert Run({X: Condition(operator="AND", **blocks)}, more).event_numbers == [1]  # type: ignore[arg-type]


def test_rule_5_a_trigger_consumes_the_parent_runs_that_caused_it() -> None:
    run = Run(
        {X: both_succeed()},
        [
            ev("2026-11-27T03:05:00Z", LISTINGS, "SUCCEEDED", "l-27"),
            ev("2026-11-27T05:10:00Z", SEARCHES, "SUCCEEDED", "s-27"),
            ev("2026-11-27T06:00:00Z", SEARCHES, "SUCCEEDED", "s-27-rerun"),  # alone: not enough
            ev("2026-11-27T07:00:00Z", LISTINGS, "SUCCEEDED", "l-27-rerun"),
        ],
    )
    assert run.event_numbers == [1, 3]


def test_rule_5_only_events_of_a_parent_evaluate_a_child() -> None:
    run = Run({X: both_succeed()}, [ev("2026-11-27T03:05:00Z", CLICKS, "SUCCEEDED", "c-27")])
    assert run.store.evaluations == []


def test_rule_6_latest_wins_a_success_followed_by_a_rerun_no_longer_counts() -> None:
    run = Run(
        {X: both_succeed()},
        [
            ev("2026-11-27T03:05:00Z", LISTINGS, "SUCCEEDED", "l-27"),
            ev("2026-11-27T04:00:00Z", LISTINGS, "RUNNING", "l-27-rerun"),
            ev("2026-11-27T05:10:00Z", SEARCHES, "SUCCEEDED", "s-27"),
            ev("2026-11-27T05:30:00Z", LISTINGS, "FAILED", "l-27-rerun"),
            ev("2026-11-27T06:30:00Z", LISTINGS, "SUCCEEDED", "l-27-third"),
        ],
    )
    assert run.event_numbers == [4]
    assert [c.execution for c in run.fired[0][1].causes] == ["l-27-third", "s-27"]


def test_rule_7_causes_and_a_deterministic_trigger_id() -> None:
    events = [
        ev("2026-11-27T03:05:00Z", LISTINGS, "SUCCEEDED", "l-27"),
        ev("2026-11-27T05:10:00Z", SEARCHES, "SUCCEEDED", "s-27"),
    ]
    first, second = Run({X: both_succeed()}, events), Run({X: both_succeed()}, events)
    trigger = first.fired[0][1]
    assert trigger.causes == tuple(events)
    assert trigger.trigger_id == second.fired[0][1].trigger_id == trigger_id(X, events[::-1])
    assert trigger_id(X, events[:1]) != trigger.trigger_id
    assert trigger_id(ParentRef("other", "333333333333"), events) != trigger.trigger_id
    assert trigger.detail()["causes"][0] == {
        "pipeline": "listings",
        "account": "111111111111",
        "status": "SUCCEEDED",
        "execution": "l-27",
        "time": "2026-11-27T03:05:00Z",
    }


def test_rule_8_a_reset_tick_clears_a_partial_match() -> None:
    run = Run(
        {X: both_succeed(reset_cron="0 0 * * ? *")},
        [
            ev("2026-11-27T23:00:00Z", LISTINGS, "SUCCEEDED", "l-27"),
            ev("2026-11-28T01:00:00Z", SEARCHES, "SUCCEEDED", "s-28"),
            ev("2026-11-28T03:00:00Z", LISTINGS, "SUCCEEDED", "l-28"),
        ],
    )
    assert run.event_numbers == [2]
    assert run.evaluations_of(X)[1].notes == (
        "reset at 2026-11-28 00:00 UTC cleared partial match (listings@111111111111)",
    )


def test_rule_8_the_clock_is_moved_by_any_event_not_only_the_childs_parents() -> None:
    # A late searches event (time before midnight) arrives after the clock passed midnight:
    # the reset happened when the clock passed it, so yesterday's listings no longer counts.
    run = Run(
        {X: both_succeed(reset_cron="0 0 * * ? *")},
        [
            ev("2026-11-27T23:00:00Z", LISTINGS, "SUCCEEDED", "l-27"),
            ev("2026-11-28T00:30:00Z", CLICKS, "SUCCEEDED", "c-28"),
            ev("2026-11-27T23:30:00Z", SEARCHES, "SUCCEEDED", "s-27"),
        ],
    )
    assert run.fired == []


def test_rule_8_a_late_success_from_before_the_reset_never_pairs_with_todays_runs() -> None:
    # Given the clock passed midnight with an event of pipeline-x's parent (reset applied)
    late_listings = ev("2026-11-27T23:59:50Z", LISTINGS, "SUCCEEDED", "l-27")
    run = Run(
        {X: both_succeed(reset_cron="0 0 * * ? *")},
        [
            ev("2026-11-27T05:00:00Z", SEARCHES, "FAILED", "s-27"),
            ev("2026-11-28T00:00:10Z", SEARCHES, "RUNNING", "s-28"),
            # When yesterday's listings success is delivered late (EventBridge retries 24h)
            late_listings,
            ev("2026-11-28T05:00:00Z", SEARCHES, "SUCCEEDED", "s-28"),
            ev("2026-11-28T06:00:00Z", LISTINGS, "SUCCEEDED", "l-28"),
        ],
    )
    # Then today's searches does not pair with it; today's listings does
    assert run.event_numbers == [4]
    assert [c.execution for c in run.fired[0][1].causes] == ["l-28", "s-28"]
    late = run.evaluations_of(X)[2]
    assert (late.event, late.result) == (late_listings, "IGNORED")
    assert late.notes == (
        "ignored: listings@111111111111 run at 2026-11-27 23:59 UTC (l-27) "
        "is older than the reset at 2026-11-28 00:00 UTC",
    )


def test_rule_8_a_late_success_from_before_the_reset_is_ignored_even_as_a_first_evaluation() -> (
    None
):
    # Given the clock passed midnight with an event of no parent of pipeline-x (no state yet)
    late_listings = ev("2026-11-27T23:59:50Z", LISTINGS, "SUCCEEDED", "l-27")
    run = Run(
        {X: both_succeed(reset_cron="0 0 * * ? *")},
        [
            ev("2026-11-28T00:00:10Z", CLICKS, "SUCCEEDED", "c-28"),
            # When yesterday's listings success, pipeline-x's first evaluation, arrives late
            late_listings,
            ev("2026-11-28T05:00:00Z", SEARCHES, "SUCCEEDED", "s-28"),
            ev("2026-11-28T06:00:00Z", LISTINGS, "SUCCEEDED", "l-28"),
        ],
    )
    # Then it belongs to the closed period: today's searches waits for today's listings
    assert run.event_numbers == [3]
    assert [c.execution for c in run.fired[0][1].causes] == ["l-28", "s-28"]
    first = run.evaluations_of(X)[0]
    assert (first.event, first.result) == (late_listings, "IGNORED")
    assert first.notes == (
        "ignored: listings@111111111111 run at 2026-11-27 23:59 UTC (l-27) "
        "is older than the reset at 2026-11-28 00:00 UTC",
    )


def test_rule_8_a_run_exactly_at_the_reset_tick_belongs_to_the_new_period() -> None:
    run = Run(
        {X: both_succeed(reset_cron="0 0 * * ? *")},
        [
            ev("2026-11-27T23:00:00Z", SEARCHES, "SUCCEEDED", "s-27"),
            ev("2026-11-28T00:00:10Z", SEARCHES, "RUNNING", "s-28"),
            ev("2026-11-28T00:00:00Z", LISTINGS, "SUCCEEDED", "l-28"),
            ev("2026-11-28T05:00:00Z", SEARCHES, "SUCCEEDED", "s-28"),
        ],
    )
    assert run.event_numbers == [3]
    assert [c.execution for c in run.fired[0][1].causes] == ["l-28", "s-28"]


def test_rule_8_without_a_tick_in_between_nothing_is_reset() -> None:
    run = Run(
        {X: both_succeed(reset_cron="0 0 * * ? *")},
        [
            ev("2026-11-27T01:00:00Z", LISTINGS, "SUCCEEDED", "l-27"),
            ev("2026-11-27T23:59:00Z", SEARCHES, "SUCCEEDED", "s-27"),
        ],
    )
    assert run.event_numbers == [1]


def test_rule_9_every_evaluation_says_which_items_are_met_and_why() -> None:
    run = Run(
        {X: both_succeed()},
        [
            ev("2026-11-27T03:05:00Z", LISTINGS, "SUCCEEDED", "l-27"),
            ev("2026-11-27T05:12:00Z", SEARCHES, "FAILED", "s-27"),
        ],
    )
    latest = run.evaluations_of(X)[-1]
    assert latest.result == "NOT_MET"
    assert [(i.parent, i.met) for i in latest.items] == [(LISTINGS, True), (SEARCHES, False)]
    assert latest.items[1].reason == (
        "waiting for searches@222222222222: last run FAILED at 2026-11-27 05:12 UTC (s-27), "
        "wants SUCCEEDED"
    )
    assert Evaluation.from_json(latest.to_json()) == latest


def test_children_fired_by_one_event_come_in_name_then_account_order() -> None:
    either = Condition(any_of=(Item(LISTINGS, SUCCESS),))
    children = [ParentRef("x-b", "333333333333"), ParentRef("x", "333333333333")]
    run = Run(
        dict.fromkeys(children, either), [ev("2026-11-27T03:05:00Z", LISTINGS, "SUCCEEDED", "l")]
    )
    assert [t.child.name for _, t in run.fired] == ["x", "x-b"]
