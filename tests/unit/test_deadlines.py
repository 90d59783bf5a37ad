"""Deadlines (issue 14 item 1, the part `dpc status` reads): `expect: {by}` in pipeline.yaml,
when a period's data is due, and validate refusing a deadline the schedule cannot meet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_spec_rules import VALID, findings_for, only

from dpc.spec.loader import load_pipeline
from dpc.triggers.deadlines import DeadlineError, parse_expect
from dpc.triggers.periods import PeriodSpec, parse_period


def test_a_time_of_day_is_due_on_the_day_the_periods_run_window_opens() -> None:
    six = parse_expect("06:00")
    # the 03:00 run processes yesterday (offset -1d): yesterday's data is due at 06:00 today
    assert six.due(parse_period("2026-11-27"), PeriodSpec("day", -timedelta(days=1))) == (
        datetime(2026, 11, 28, 6, tzinfo=UTC)
    )
    # the 05:00 run processes today (offset 0): due at 06:00 the same day
    assert six.due(parse_period("2026-11-28"), PeriodSpec("day")) == datetime(
        2026, 11, 28, 6, tzinfo=UTC
    )
    # a week's data: 06:00 on the Monday it starts
    assert six.due(parse_period("2026-W48"), PeriodSpec("week")) == datetime(
        2026, 11, 23, 6, tzinfo=UTC
    )


def test_a_duration_is_due_that_long_after_the_period_ends() -> None:
    due = parse_expect("45m").due(parse_period("2026-11-28T05"), PeriodSpec("hour"))
    assert due == datetime(2026, 11, 28, 6, 45, tzinfo=UTC)
    assert str(parse_expect("1d6h")) == "1d6h" and str(parse_expect("06:00")) == "06:00"


@pytest.mark.parametrize("text", ["6am", "24:00", "06:60", "", "32d"])
def test_what_is_not_a_deadline_is_refused(text: str) -> None:
    with pytest.raises(DeadlineError):
        parse_expect(text)


def test_validate_refuses_a_deadline_before_the_scheduled_run(tmp_path: Path) -> None:
    text = VALID + 'expect:\n  by: "02:00"\n'
    finding = only(findings_for(tmp_path, text))
    assert (finding.field, finding.line) == ("expect.by", 9)
    assert finding.message == (
        "'02:00' comes before the scheduled run that makes the period: the 2026-01-01 run "
        "starts 2026-01-01 03:00 and would be due 2026-01-01 02:00"
    )
    assert findings_for(tmp_path, VALID + 'expect:\n  by: "06:00"\n') == []


def test_validate_wants_a_duration_for_hourly_data(tmp_path: Path) -> None:
    hourly = VALID + "period:\n  unit: hour\n"
    finding = only(findings_for(tmp_path, hourly + 'expect:\n  by: "06:00"\n'))
    assert "an hourly period's data is due a duration after the hour ends, e.g. 45m" in (
        finding.message
    )
    assert findings_for(tmp_path, hourly + "expect:\n  by: 45m\n") == []


def test_the_deadline_reaches_the_model(tmp_path: Path) -> None:
    findings_for(tmp_path, VALID + 'expect:\n  by: "06:00"\n')
    pipeline = load_pipeline(tmp_path / "pipeline.yaml")
    assert pipeline.expect is not None and str(pipeline.expect) == "06:00"
