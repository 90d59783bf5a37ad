"""DESIGN §5b, one rule at a time, on the in-memory store: read as the specification."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dpc.triggers.engine import TriggerEngine
from dpc.triggers.events import Evaluation, RunEvent, Trigger, trigger_id
from dpc.triggers.memory import CollectingPublisher, MemoryStore
from dpc.triggers.model import Condition, Item, ParentRef, Status
from dpc.triggers.periods import PeriodError, PeriodSpec, parse_period, periods_between
from dpc.triggers.replay import children_index, engine_process, replay
from dpc.triggers.timefmt import parse_time

LISTINGS = ParentRef("listings", "111111111111")
SEARCHES = ParentRef("searches", "222222222222")
CLICKS = ParentRef("clicks", "444444444444")
X = ParentRef("pipeline-x", "333333333333")
SUCCESS: frozenset[Status] = frozenset({"SUCCEEDED"})


def per_period(*items: Item, **options: object) -> Condition:
    items = items or (Item(LISTINGS, SUCCESS), Item(SEARCHES, SUCCESS))
    return Condition(all_of=items, correlate="period", **options)  # type: ignore[arg-type]


def ev(
    time: str,
    parent: ParentRef,
    status: Status,
    execution: str,
    period: str | None = None,
    propagate: bool = True,
) -> RunEvent:
    """A run; its period is the day of its time unless given (a rerun of an earlier day)."""
    moment = parse_time(time)
    return RunEvent(
        moment,
        parent,
        status,
        execution,
        parse_period(period or time[:10]),
        propagate,
    )


class Run:
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
    def periods(self) -> list[str]:
        return [str(trigger.period) for _, trigger in self.fired]

    def causes(self, index: int) -> list[str]:
        return [cause.execution for cause in self.fired[index][1].causes]

    def evaluations_of(self, child: ParentRef) -> list[Evaluation]:
        return [e for e in self.store.evaluations if e.child == child]


def test_p1_a_parent_run_counts_for_the_child_period_containing_the_start_of_its_period() -> None:
    # Given a daily parent's run for 27 November that finishes on the 28th
    late = ev("2026-11-28T01:00:00Z", LISTINGS, "SUCCEEDED", "l-27", period="2026-11-27")
    searches = ev("2026-11-28T02:00:00Z", SEARCHES, "SUCCEEDED", "s-27", period="2026-11-27")
    # When both arrive
    run = Run({X: per_period()}, [late, searches])
    # Then pipeline-x runs for the 27th: the period the data is of, not the day it arrived
    assert run.periods == ["2026-11-27"]


def test_p2_state_is_per_period_so_days_never_mix() -> None:
    # Given listings of the 27th and the 28th, then searches of the 28th, then of the 27th
    run = Run(
        {X: per_period()},
        [
            ev("2026-11-27T03:10:00Z", LISTINGS, "SUCCEEDED", "l-27"),
            ev("2026-11-28T03:10:00Z", LISTINGS, "SUCCEEDED", "l-28"),
            ev("2026-11-28T05:10:00Z", SEARCHES, "SUCCEEDED", "s-28"),
            ev("2026-11-28T09:00:00Z", SEARCHES, "SUCCEEDED", "s-27", period="2026-11-27"),
        ],
    )
    # Then each day runs with its own pair, in the order the pairs completed
    assert run.periods == ["2026-11-28", "2026-11-27"]
    assert run.causes(0) == ["l-28", "s-28"]
    assert run.causes(1) == ["l-27", "s-27"]


def test_p2_an_older_event_of_a_period_does_not_replace_a_newer_one() -> None:
    # Given searches of the 27th failed at 06:00 after an earlier success was delivered late
    run = Run(
        {X: per_period()},
        [
            ev("2026-11-27T06:00:00Z", SEARCHES, "FAILED", "s-27b"),
            ev("2026-11-27T05:00:00Z", SEARCHES, "SUCCEEDED", "s-27a"),
            ev("2026-11-27T07:00:00Z", LISTINGS, "SUCCEEDED", "l-27"),
        ],
    )
    # Then the newest run of the 27th (FAILED) is what counts: no run
    assert run.fired == []
    ignored = [e for e in run.evaluations_of(X) if e.result == "IGNORED"]
    assert "older than the 2026-11-27" in ignored[0].notes[0]


def test_p3_every_needs_every_finer_period_inside_the_child_period() -> None:
    # Given an hourly parent and a daily child that needs all 24 hours of a day
    hourly = ParentRef("clicks-hourly", "444444444444")
    condition = per_period(Item(hourly, SUCCESS, every=True))
    hours = [
        ev(f"2026-11-27T{h:02d}:50:00Z", hourly, "SUCCEEDED", f"c-{h}", f"2026-11-27T{h:02d}")
        for h in range(24)
    ]
    # When 23 hours arrive, and then the last (hour 13, delivered late)
    run_23 = Run({X: condition}, [h for h in hours if h.execution != "c-13"])
    run_24 = Run({X: condition}, [h for h in hours if h.execution != "c-13"] + [hours[13]])
    # Then only the complete day runs, with all 24 runs as causes
    assert run_23.fired == []
    not_met = run_23.evaluations_of(X)[-1]
    assert "1 of 24 hours without a run (2026-11-27T13)" in not_met.items[0].reason
    assert run_24.periods == ["2026-11-27"]
    assert len(run_24.causes(0)) == 24


def test_p3_every_is_unmet_while_one_finer_period_has_the_wrong_status() -> None:
    hourly = ParentRef("clicks-hourly", "444444444444")
    hours = [
        ev(f"2026-11-27T{h:02d}:50:00Z", hourly, "SUCCEEDED", f"c-{h}", f"2026-11-27T{h:02d}")
        for h in range(24)
    ]
    hours[5] = ev("2026-11-27T05:50:00Z", hourly, "FAILED", "c-5", "2026-11-27T05")
    run = Run({X: per_period(Item(hourly, SUCCESS, every=True))}, hours)
    assert run.fired == []
    # and the hour's rerun completes the day
    rerun = ev("2026-11-28T09:00:00Z", hourly, "SUCCEEDED", "c-5-rerun", "2026-11-27T05")
    run = Run({X: per_period(Item(hourly, SUCCESS, every=True))}, [*hours, rerun])
    assert run.periods == ["2026-11-27"]


def test_p4_blocks_combine_as_in_section_5() -> None:
    # allOf listings AND anyOf (searches | clicks)
    condition = Condition(
        all_of=(Item(LISTINGS, SUCCESS),),
        any_of=(Item(SEARCHES, SUCCESS), Item(CLICKS, SUCCESS)),
        correlate="period",
    )
    run = Run(
        {X: condition},
        [
            ev("2026-11-27T03:00:00Z", CLICKS, "SUCCEEDED", "c-27"),
            ev("2026-11-27T04:00:00Z", LISTINGS, "SUCCEEDED", "l-27"),
        ],
    )
    assert run.periods == ["2026-11-27"]
    assert run.causes(0) == ["l-27", "c-27"]


def test_p5_a_period_fires_once_whatever_arrives_later() -> None:
    # Given the 27th fired, then searches' RUNNING of a new run and a duplicate listings success
    run = Run(
        {X: per_period()},
        [
            ev("2026-11-27T03:10:00Z", LISTINGS, "SUCCEEDED", "l-27"),
            ev("2026-11-27T05:10:00Z", SEARCHES, "SUCCEEDED", "s-27"),
            ev("2026-11-27T05:10:00Z", SEARCHES, "SUCCEEDED", "s-27"),
            ev("2026-11-27T06:00:00Z", LISTINGS, "SUCCEEDED", "l-27"),
        ],
    )
    # Then one run for the 27th
    assert run.periods == ["2026-11-27"]


def test_p5_a_rerun_parent_period_retriggers_that_period_only() -> None:
    # The case: on the 28th listings succeeds, searches fails; then the searches team
    # reruns the 27th with corrected logs.
    events = [
        ev("2026-11-27T03:10:00Z", LISTINGS, "SUCCEEDED", "listings-20261127"),
        ev("2026-11-27T05:10:00Z", SEARCHES, "SUCCEEDED", "searches-20261127"),
        ev("2026-11-28T03:10:00Z", LISTINGS, "SUCCEEDED", "listings-20261128"),
        ev("2026-11-28T05:11:00Z", SEARCHES, "FAILED", "searches-20261128"),
        ev("2026-11-28T08:00:00Z", SEARCHES, "RUNNING", "searches-rerun-of-20261127", "2026-11-27"),
        ev(
            "2026-11-28T08:11:00Z",
            SEARCHES,
            "SUCCEEDED",
            "searches-rerun-of-20261127",
            "2026-11-27",
        ),
    ]
    run = Run({X: per_period()}, events)
    # Then the rerun never pairs with the 28th's listings; the 27th is rebuilt
    assert run.periods == ["2026-11-27", "2026-11-27"]
    assert run.causes(1) == ["listings-20261127", "searches-rerun-of-20261127"]
    assert "rerun for 2026-11-27" in run.evaluations_of(X)[-1].notes[0]
    # With rerun: ignore, the 27th runs once and the 28th still waits
    assert Run({X: per_period(rerun="ignore")}, events).periods == ["2026-11-27"]


def test_p5_a_later_fulfilled_item_that_was_unmet_at_firing_is_not_a_rerun() -> None:
    # anyOf searches | clicks: searches fires the 27th; clicks succeeding later is no rerun
    condition = Condition(
        any_of=(Item(SEARCHES, SUCCESS), Item(CLICKS, SUCCESS)), correlate="period"
    )
    run = Run(
        {X: condition},
        [
            ev("2026-11-27T05:10:00Z", SEARCHES, "SUCCEEDED", "s-27"),
            ev("2026-11-27T06:10:00Z", CLICKS, "SUCCEEDED", "c-27"),
        ],
    )
    assert run.periods == ["2026-11-27"]


def test_p5_a_failed_rerun_does_not_retrigger_and_its_success_later_does() -> None:
    events = [
        ev("2026-11-27T03:10:00Z", LISTINGS, "SUCCEEDED", "l-27"),
        ev("2026-11-27T05:10:00Z", SEARCHES, "SUCCEEDED", "s-27"),
        ev("2026-11-28T08:00:00Z", LISTINGS, "FAILED", "l-27-rerun", "2026-11-27"),
    ]
    assert Run({X: per_period()}, events).periods == ["2026-11-27"]
    again = ev("2026-11-28T09:00:00Z", LISTINGS, "SUCCEEDED", "l-27-rerun2", "2026-11-27")
    assert Run({X: per_period()}, [*events, again]).periods == ["2026-11-27", "2026-11-27"]


def test_p6_a_period_past_the_horizon_is_closed() -> None:
    # Given keep 2d and the clock at 1 December (a later event of another day moved it)
    events = [
        ev("2026-11-27T03:10:00Z", LISTINGS, "SUCCEEDED", "l-27"),
        ev("2026-12-01T03:10:00Z", LISTINGS, "SUCCEEDED", "l-01"),
        ev("2026-12-01T04:00:00Z", SEARCHES, "SUCCEEDED", "s-27", period="2026-11-27"),
    ]
    run = Run({X: per_period(keep=timedelta(days=2))}, events)
    # Then the 27th (ended 28 Nov 00:00, more than 2 days before the clock) no longer fires
    assert run.fired == []
    assert "period 2026-11-27 is closed" in run.evaluations_of(X)[-1].notes[0]
    # With the default keep (35d) it still would
    assert Run({X: per_period()}, events).periods == ["2026-11-27"]


def test_p7_the_trigger_carries_its_period_and_an_id_of_child_period_and_causes() -> None:
    events = [
        ev("2026-11-27T03:10:00Z", LISTINGS, "SUCCEEDED", "l-27"),
        ev("2026-11-27T05:10:00Z", SEARCHES, "SUCCEEDED", "s-27"),
    ]
    [(_, trigger)] = Run({X: per_period()}, events).fired
    assert trigger.detail()["period"] == "2026-11-27"
    assert trigger.trigger_id == trigger_id(X, list(reversed(events)), parse_period("2026-11-27"))
    assert trigger.trigger_id != trigger_id(X, events)


def test_p8_a_run_started_with_no_downstream_starts_no_child_of_either_kind() -> None:
    latest = Condition(all_of=(Item(LISTINGS, SUCCESS),))
    correlated = per_period(Item(LISTINGS, SUCCESS))
    y = ParentRef("pipeline-y", "333333333333")
    backfill = ev("2026-11-28T03:10:00Z", LISTINGS, "SUCCEEDED", "l-26", "2026-11-26", False)
    run = Run({X: correlated, y: latest}, [backfill])
    assert run.fired == []
    assert "--no-downstream" in run.evaluations_of(X)[0].notes[0]
    # It still counts for rule 1: a propagating redelivery of the same run is a duplicate
    again = ev("2026-11-28T03:10:00Z", LISTINGS, "SUCCEEDED", "l-26", "2026-11-26")
    assert Run({X: correlated, y: latest}, [backfill, again]).fired == []


def test_p9_every_evaluation_names_its_period_and_why() -> None:
    run = Run({X: per_period()}, [ev("2026-11-27T03:10:00Z", LISTINGS, "SUCCEEDED", "l-27")])
    [evaluation] = run.evaluations_of(X)
    assert str(evaluation.period) == "2026-11-27" and evaluation.result == "NOT_MET"
    reasons = [item.reason for item in evaluation.items]
    assert reasons == [
        "listings@111111111111 2026-11-27: SUCCEEDED at 2026-11-27 03:10 UTC (l-27)",
        "waiting for searches@222222222222: no run for 2026-11-27",
    ]


def test_a_latest_child_runs_for_the_period_containing_trigger_time_plus_its_offset() -> None:
    condition = Condition(
        all_of=(Item(LISTINGS, SUCCESS),), period=PeriodSpec("day", -timedelta(days=1))
    )
    run = Run({X: condition}, [ev("2026-11-28T03:10:00Z", LISTINGS, "SUCCEEDED", "l-28")])
    assert run.periods == ["2026-11-27"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-13-01", "month 13 is not 01 to 12"),
        ("2026-W54", "ISO year 2026 has weeks W01 to W53"),
        ("2025-W53", "ISO year 2025 has weeks W01 to W52"),
        ("2026-02-30", "2026-02 has no day 30"),
        ("2026-11-27T24", "hour 24 is not 00 to 23"),
        ("yesterday", "is not a period"),
    ],
)
def test_a_period_that_does_not_exist_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        parse_period(text)


def test_periods_read_back_as_written_and_nest() -> None:
    for text in ("2026-11-27T05", "2026-11-27", "2026-W53", "2026-11"):
        assert str(parse_period(text)) == text
    week = parse_period("2026-W53")
    assert str(week.start.date()) == "2026-12-28" and str(week.end.date()) == "2027-01-04"
    assert [str(p) for p in periods_between(parse_period("2026-12"), parse_period("2027-02"))] == [
        "2026-12",
        "2027-01",
        "2027-02",
    ]
    with pytest.raises(PeriodError, match="is after"):
        periods_between(parse_period("2026-11-28"), parse_period("2026-11-27"))
