"""`dpc status` (issue 14 item 3): one period of the organization, each pipeline done,
running, failed or waiting — and on which parent — from the registry and the run log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dpc.observe.runlog import Run
from dpc.observe.status import all_done, organization_status
from dpc.spec.model import Pipeline, Schedule, Trigger
from dpc.triggers.deadlines import parse_expect
from dpc.triggers.model import Condition, Item, ParentRef
from dpc.triggers.periods import PeriodSpec, parse_period

LISTINGS, SEARCHES, X = (
    ParentRef("listings", "111111111111"),
    ParentRef("searches", "222222222222"),
    ParentRef("pipeline-x", "333333333333"),
)
DAY = parse_period("2026-11-28")
NOON = datetime(2026, 11, 28, 12, tzinfo=UTC)


def _scheduled(ref: ParentRef, unit: str = "day", by: str | None = None) -> Pipeline:
    return Pipeline(
        name=ref.name,
        account=ref.account,
        steps=(),
        trigger=Trigger(schedule=Schedule("cron(0 3 * * ? *)")),
        period=PeriodSpec(unit),  # type: ignore[arg-type]
        expect=parse_expect(by) if by else None,
    )


def _child(ref: ParentRef, *parents: ParentRef) -> Pipeline:
    items = tuple(Item(parent, frozenset({"SUCCEEDED"})) for parent in parents)
    return Pipeline(
        name=ref.name,
        account=ref.account,
        steps=(),
        trigger=Trigger(executions=Condition(all_of=items, correlate="period")),
    )


def _run(ref: ParentRef, status: str, period: str, hour: int, execution: str = "") -> Run:
    started = datetime(2026, 11, 28, hour, tzinfo=UTC)
    return Run(
        pipeline=ref,
        execution=execution or f"{ref.name}-{period}-{hour}",
        status=status,
        started_at=started,
        stopped_at=None if status == "RUNNING" else started + timedelta(minutes=11),
        trigger_id=None,
        causes=(),
        scheduled=True,
        period=period,
    )


ORG = [_scheduled(LISTINGS), _scheduled(SEARCHES), _child(X, LISTINGS, SEARCHES)]


def test_a_failed_parent_leaves_its_child_waiting_on_it_and_the_failure_comes_first() -> None:
    runs = [
        _run(LISTINGS, "SUCCEEDED", "2026-11-28", 3),
        _run(SEARCHES, "FAILED", "2026-11-28", 5),
        _run(SEARCHES, "SUCCEEDED", "2026-11-27", 5),  # another period: no bearing
    ]
    found = organization_status(ORG, runs, DAY, NOON)
    assert [(s.pipeline, s.state) for s in found] == [
        (SEARCHES, "failed"),
        (X, "waiting"),
        (LISTINGS, "done"),
    ]
    assert found[0].detail == "FAILED at 2026-11-28 05:11"
    assert found[1].detail == f"waiting on {SEARCHES} (failed)"
    assert not all_done(found)


def test_the_newest_run_of_a_period_decides_so_a_rerun_mends_a_failure() -> None:
    runs = [
        _run(LISTINGS, "SUCCEEDED", "2026-11-28", 3),
        _run(SEARCHES, "FAILED", "2026-11-28", 5),
        _run(SEARCHES, "SUCCEEDED", "2026-11-28", 9, "rerun"),
        _run(X, "RUNNING", "2026-11-28", 10),
    ]
    found = organization_status(ORG, runs, DAY, NOON)
    assert [(s.pipeline.name, s.state) for s in found] == [
        ("pipeline-x", "running"),
        ("searches", "done"),
        ("listings", "done"),
    ]
    assert found[0].detail == "running since 2026-11-28 10:00"
    assert found[1].latest is not None and found[1].latest.execution == "rerun"
    done = [*runs, _run(X, "SUCCEEDED", "2026-11-28", 11)]
    assert all_done(organization_status(ORG, done, DAY, NOON))


def test_an_hourly_pipeline_is_done_for_a_day_when_all_its_24_hours_are() -> None:
    hourly = ParentRef("clicks", "111111111111")
    org = [_scheduled(hourly, "hour")]
    hours = [_run(hourly, "SUCCEEDED", f"2026-11-28T{h:02d}", h) for h in range(23)]
    (status,) = organization_status(org, hours, DAY, NOON)
    assert status.state == "waiting" and len(status.periods) == 24
    assert status.periods[0] == "2026-11-28T00" and status.periods[-1] == "2026-11-28T23"
    (status,) = organization_status(
        org, [*hours, _run(hourly, "SUCCEEDED", "2026-11-28T23", 23)], DAY, NOON
    )
    assert status.state == "done"


def test_a_weekly_pipeline_is_judged_by_the_week_that_holds_the_day() -> None:
    weekly = ParentRef("report", "333333333333")
    (status,) = organization_status(
        [_scheduled(weekly, "week")], [_run(weekly, "SUCCEEDED", "2026-W48", 6)], DAY, NOON
    )
    assert status.periods == ("2026-W48",) and status.state == "done"


def test_nothing_registered_is_not_all_done() -> None:
    assert not all_done(organization_status([], [], DAY, NOON))


def test_past_its_deadline_a_pipeline_not_done_is_late_and_so_is_the_child_it_blocks() -> None:
    # Given searches is due at 06:00 and still running at noon; pipeline-x has no deadline
    org = [_scheduled(LISTINGS), _scheduled(SEARCHES, by="06:00"), _child(X, LISTINGS, SEARCHES)]
    runs = [
        _run(LISTINGS, "SUCCEEDED", "2026-11-28", 3),
        _run(SEARCHES, "RUNNING", "2026-11-28", 5),
        # pipeline-x usually takes 2 hours
        _run(X, "SUCCEEDED", "2026-11-27", 7),
    ]
    runs[-1] = Run(**{**runs[-1].__dict__, "stopped_at": runs[-1].started_at + timedelta(hours=2)})
    found = {s.pipeline: s for s in organization_status(org, runs, DAY, NOON)}
    assert found[SEARCHES].state == "late"
    assert found[SEARCHES].detail == "due 2026-11-28 06:00: running since 2026-11-28 05:00"
    # pipeline-x is due when searches is, plus its typical run: 08:00 (inferred)
    assert found[X].state == "late" and found[X].due_inferred
    assert found[X].detail == (f"due 2026-11-28 08:00 (inferred): waiting on {SEARCHES} (late)")
    # at 07:00 searches is late, pipeline-x not yet
    early = {s.pipeline: s.state for s in organization_status(org, runs, DAY, NOON.replace(hour=7))}
    assert early == {LISTINGS: "done", SEARCHES: "late", X: "waiting"}


def test_a_child_that_never_succeeded_has_no_inferred_deadline() -> None:
    # Given searches is late, and pipeline-x has no successful run to take its typical time from
    org = [_scheduled(LISTINGS), _scheduled(SEARCHES, by="06:00"), _child(X, LISTINGS, SEARCHES)]
    runs = [_run(LISTINGS, "SUCCEEDED", "2026-11-28", 3), _run(X, "FAILED", "2026-11-27", 7)]
    found = {s.pipeline: s for s in organization_status(org, runs, DAY, NOON)}
    assert found[SEARCHES].state == "late"
    # Then pipeline-x is waiting, with no deadline guessed for it
    assert (found[X].state, found[X].due) == ("waiting", None)
    assert found[X].detail == f"waiting on {SEARCHES} (late)"


def test_a_failure_stays_a_failure_past_its_deadline() -> None:
    org = [_scheduled(SEARCHES, by="06:00")]
    (status,) = organization_status(org, [_run(SEARCHES, "FAILED", "2026-11-28", 5)], DAY, NOON)
    assert status.state == "failed" and status.due is not None
