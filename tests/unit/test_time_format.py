"""Stored times sort as strings (DynamoDB sort keys), so their text must sort as time does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from dpc.triggers.timefmt import format_time, parse_time

WHOLE_SECOND = datetime(2026, 11, 27, 5, 12, 0, tzinfo=UTC)


def test_text_order_is_time_order_across_whole_seconds_and_milliseconds() -> None:
    # Given times on and between whole seconds, in time order
    moments = [WHOLE_SECOND + timedelta(milliseconds=ms) for ms in (0, 1, 500, 999, 1000, 1500)]

    # When they are formatted as the stores write them
    texts = [format_time(m) for m in moments]

    # Then sorting the texts gives the same order, also with a sort-key suffix
    assert sorted(texts) == texts
    assert sorted(f"{t}#execution" for t in texts) == [f"{t}#execution" for t in texts]


def test_the_form_is_fixed_width_utc_with_milliseconds() -> None:
    assert format_time(WHOLE_SECOND) == "2026-11-27T05:12:00.000Z"
    paris = timezone(timedelta(hours=1))
    assert format_time(datetime(2026, 11, 27, 6, 12, 0, 500_000, tzinfo=paris)) == (
        "2026-11-27T05:12:00.500Z"
    )


def test_both_the_new_and_the_older_form_read_back_to_the_same_time() -> None:
    assert parse_time(format_time(WHOLE_SECOND)) == WHOLE_SECOND
    assert parse_time("2026-11-27T05:12:00Z") == WHOLE_SECOND
    half = WHOLE_SECOND + timedelta(milliseconds=500)
    assert parse_time(format_time(half)) == half
