"""What each notification type lets through, and the message text (reviewed snapshots)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dpc.lambdas.notifications import Notice, format_duration, render_text, subject, wanted

ARN = "arn:aws:states:eu-west-1:222222222222:execution:dpc-searches:searches-2026-11-28"
AT = datetime(2026, 11, 28, 5, 12, 30, tzinfo=UTC)
RUN_STARTED = Notice("searches", "222222222222", "eu-west-1", ARN, "RUNNING", AT)
STEP_STARTED = replace(RUN_STARTED, step="aggregate")
STEP_SUCCEEDED = replace(STEP_STARTED, status="SUCCEEDED", duration=timedelta(minutes=7, seconds=3))
STEP_FAILED = replace(
    STEP_STARTED,
    status="FAILED",
    duration=timedelta(seconds=42),
    error="States.TaskFailed",
    cause="Step aggregate failed: exit code 1",
)
RUN_SUCCEEDED = replace(RUN_STARTED, status="SUCCEEDED", duration=timedelta(hours=1, minutes=2))
RUN_FAILED = replace(
    RUN_STARTED,
    status="FAILED",
    duration=timedelta(minutes=12, seconds=5),
    failed_step="aggregate",
    error="States.TaskFailed",
    cause="Step aggregate failed: exit code 1",
)
RUN_TIMED_OUT = replace(RUN_STARTED, status="TIMED_OUT", duration=timedelta(hours=6))
RUN_ABORTED = replace(RUN_STARTED, status="ABORTED", duration=timedelta(seconds=9))

ALL = {
    "run started": RUN_STARTED,
    "step started": STEP_STARTED,
    "step succeeded": STEP_SUCCEEDED,
    "step failed": STEP_FAILED,
    "run succeeded": RUN_SUCCEEDED,
    "run failed": RUN_FAILED,
    "run timed out": RUN_TIMED_OUT,
    "run aborted": RUN_ABORTED,
}


@pytest.mark.parametrize(
    ("notification_type", "expected"),
    [
        ("FULL_EXECUTION", set(ALL)),
        ("ON_FINISH", {"run succeeded", "run failed", "run timed out", "run aborted"}),
        ("ON_FAILURE", {"run failed", "run timed out", "run aborted"}),
    ],
)
def test_each_type_lets_through_exactly_its_events(
    notification_type: str, expected: set[str]
) -> None:
    let_through = {name for name, notice in ALL.items() if wanted(notification_type, notice)}  # type: ignore[arg-type]
    assert let_through == expected


CONSOLE = (
    "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1"
    f"#/v2/executions/details/{ARN}"
)


def test_failed_run_message_names_step_error_duration_and_console() -> None:
    assert render_text(RUN_FAILED) == "\n".join(
        [
            "[dpc] searches: run FAILED at step aggregate",
            "Pipeline:  searches",
            "Account:   222222222222",
            "Execution: searches-2026-11-28",
            "Status:    FAILED",
            "Step:      aggregate",
            "Time:      2026-11-28 05:12:30 UTC",
            "Duration:  12m 05s",
            "Error:     States.TaskFailed: Step aggregate failed: exit code 1",
            f"Console:   {CONSOLE}",
        ]
    )


def test_run_started_message_has_no_empty_fields() -> None:
    assert render_text(RUN_STARTED) == "\n".join(
        [
            "[dpc] searches: run started",
            "Pipeline:  searches",
            "Account:   222222222222",
            "Execution: searches-2026-11-28",
            "Status:    RUNNING",
            "Time:      2026-11-28 05:12:30 UTC",
            f"Console:   {CONSOLE}",
        ]
    )


@pytest.mark.parametrize(
    ("notice", "headline", "duration"),
    [
        (STEP_STARTED, "[dpc] searches: step aggregate started", None),
        (STEP_SUCCEEDED, "[dpc] searches: step aggregate SUCCEEDED", "7m 03s"),
        (STEP_FAILED, "[dpc] searches: step aggregate FAILED", "42s"),
        (RUN_SUCCEEDED, "[dpc] searches: run SUCCEEDED", "1h 02m 00s"),
        (RUN_TIMED_OUT, "[dpc] searches: run TIMED_OUT", "6h 00m 00s"),
        (RUN_ABORTED, "[dpc] searches: run ABORTED", "9s"),
    ],
)
def test_headline_and_duration_per_status(
    notice: Notice, headline: str, duration: str | None
) -> None:
    lines = render_text(notice).splitlines()
    assert lines[0] == headline
    assert f"Status:    {notice.status}" in lines
    durations = [line for line in lines if line.startswith("Duration:")]
    assert durations == ([f"Duration:  {duration}"] if duration else [])


def test_step_failure_shows_its_error() -> None:
    assert (
        "Error:     States.TaskFailed: Step aggregate failed: exit code 1"
        in render_text(STEP_FAILED).splitlines()
    )


def test_long_causes_are_cut_and_the_console_link_is_kept() -> None:
    text = render_text(replace(RUN_FAILED, cause="x" * 5000))
    assert len(text) < 1500
    assert text.splitlines()[-1] == f"Console:   {CONSOLE}"


def test_subject_fits_sns_limits() -> None:
    long_name = replace(RUN_FAILED, pipeline="p" * 63, failed_step="step-" + "é" * 80)
    text = subject(long_name)
    assert len(text) <= 100 and text.isascii() and "\n" not in text
    assert subject(RUN_FAILED) == "[dpc] searches: run FAILED at step aggregate"


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (59, "59s"), (60, "1m 00s"), (3725, "1h 02m 05s")]
)
def test_duration_format(seconds: int, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text
