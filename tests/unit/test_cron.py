"""EventBridge schedule expressions: what fires when, and what a user is told when it is wrong."""

import re
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from dpc.triggers.cron import CronError, check_field, parse_cron, parse_rate, parse_schedule


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_daily_cron_fires_once_a_day_at_the_given_hour() -> None:
    daily = parse_cron("cron(0 3 * * ? *)")
    ticks = list(daily.ticks_between(at("2026-11-27T00:00"), at("2026-11-29T23:59")))
    assert ticks == [at("2026-11-27T03:00"), at("2026-11-28T03:00"), at("2026-11-29T03:00")]


def test_ticks_between_is_half_open_excluding_start_including_end() -> None:
    midnight = parse_cron("0 0 * * ? *")
    assert list(midnight.ticks_between(at("2026-11-27T00:00"), at("2026-11-28T00:00"))) == [
        at("2026-11-28T00:00")
    ]


def test_next_after_accepts_naive_times_as_utc() -> None:
    assert parse_cron("30 5 * * ? *").next_after(datetime(2026, 11, 27, 5, 30)) == at(
        "2026-11-28T05:30"
    )


def test_steps_lists_and_ranges() -> None:
    every_15_in_office_hours = parse_cron("0/15 9-10 ? * MON-FRI *")
    ticks = list(
        every_15_in_office_hours.ticks_between(at("2026-11-27T08:59"), at("2026-11-27T10:59"))
    )
    assert len(ticks) == 8  # Friday 27 Nov 2026: 9:00 … 10:45
    assert not list(
        every_15_in_office_hours.ticks_between(at("2026-11-28T00:00"), at("2026-11-29T23:59"))
    )  # weekend


def test_weekday_numbering_is_one_for_sunday() -> None:
    sundays = parse_cron("0 12 ? * 1 *")
    assert sundays.next_after(at("2026-11-27T00:00")) == at("2026-11-29T12:00")


def test_last_day_of_month_and_nth_weekday() -> None:
    assert parse_cron("0 0 L * ? *").next_after(at("2026-02-01T00:00")) == at("2026-02-28T00:00")
    second_tuesday = parse_cron("0 0 ? * 3#2 *")
    assert second_tuesday.next_after(at("2026-12-01T00:00")) == at("2026-12-08T00:00")
    last_friday = parse_cron("0 0 ? * 6L *")
    assert last_friday.next_after(at("2026-11-01T00:00")) == at("2026-11-27T00:00")


def test_nearest_weekday() -> None:
    # 15 Nov 2026 is a Sunday: 15W fires on Monday the 16th.
    assert parse_cron("0 0 15W * ? *").next_after(at("2026-11-01T00:00")) == at("2026-11-16T00:00")


def test_expression_that_never_fires_again_has_no_next_tick() -> None:
    assert parse_cron("0 0 1 1 ? 1999").next_after(at("2026-01-01T00:00")) is None


def test_latest_at_or_before_includes_a_tick_exactly_at_the_moment() -> None:
    midnight = parse_cron("0 0 * * ? *")
    assert midnight.latest_at_or_before(at("2026-11-28T00:00")) == at("2026-11-28T00:00")
    assert midnight.latest_at_or_before(at("2026-11-27T23:59:59")) == at("2026-11-27T00:00")
    office = parse_cron("0/15 9-10 ? * MON-FRI *")
    # Sunday 29 Nov 2026: the newest tick is Friday's last one
    assert office.latest_at_or_before(at("2026-11-29T12:00")) == at("2026-11-27T10:45")


def test_latest_at_or_before_agrees_with_ticks_between() -> None:
    # Given expressions of every kind, over a span with many ticks of each
    start, end = at("2025-12-01T00:00"), at("2026-03-01T00:00")
    for text in ("0 0 L * ? *", "0 0 ? * 3#2 *", "0 0 15W * ? *", "30 5,17 ? * MON-FRI *"):
        cron = parse_cron(text)
        ticks = list(cron.ticks_between(start, end))
        # Then just before and at each tick, the newest one is the one ticks_between lists
        assert len(ticks) > 2, text
        for previous, tick in pairwise(ticks):
            assert cron.latest_at_or_before(tick) == tick, text
            assert cron.latest_at_or_before(tick - timedelta(seconds=1)) == previous, text


def test_latest_at_or_before_skips_excluded_years_and_knows_when_there_is_none() -> None:
    assert parse_cron("0 0 1 1 ? 1999").latest_at_or_before(at("2026-01-01T00:00")) == at(
        "1999-01-01T00:00"
    )
    assert parse_cron("0 0 1 1 ? 2030").latest_at_or_before(at("2026-01-01T00:00")) is None


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 24 * * ? *", "hour field: 24 is out of range (allowed 0-23)"),
        ("60 3 * * ? *", "minute field: 60 is out of range (allowed 0-59)"),
        ("0 3 32 * ? *", "day-of-month field: 32 is out of range (allowed 1-31)"),
        ("0 3 * 13 ? *", "month field: 13 is out of range (allowed 1-12 or JAN-DEC)"),
        ("0 3 ? * 8 *", "day-of-week field: 8 is out of range (allowed 1-7 or SUN-SAT)"),
        ("0 3 * * * *", "exactly one of day-of-month and day-of-week must be '?'"),
        ("0 3 * *", "cron needs 6 fields"),
        ("0 x * * ? *", "hour field: 'x' is not a number"),
        ("0 3 * * ? 2027-2026", "year field: range '2027-2026' runs backwards"),
        ("5/ 3 * * ? *", "minute field: step '/' must be a positive number"),
        ("0 3 ? * 3#1,6#3 *", "with '#' the field takes one expression only"),
        ("0/0 3 * * ? *", "step '/0' must be a positive number"),
    ],
)
def test_invalid_cron_names_the_field_and_what_is_allowed(expression: str, message: str) -> None:
    with pytest.raises(CronError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_cron(expression)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 \u00b2 * * ? *", "hour field: '\u00b2' is not a number"),
        ("0 \u0663 * * ? *", "hour field: '\u0663' is not a number"),
        ("0 " + "9" * 5000 + " * * ? *", "hour field: 99999"),
        ("0/\u00b2 3 * * ? *", "minute field: step '/\u00b2' must be a positive number"),
        ("0 3 ? * 2#\u00b2 *", "day-of-week field: '#\u00b2' must be 1-5"),
    ],
)
def test_only_ascii_digits_of_any_length_are_numbers(expression: str, message: str) -> None:
    # '²' passes str.isdigit() but not int(); 5000 digits pass [0-9]+ but not int()
    with pytest.raises(CronError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_cron(expression)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0/60 3 * * ? *", "minute field: step '/60' must be a positive number, at most 59"),
        ("0 1/24 * * ? *", "hour field: step '/24' must be a positive number, at most 23"),
        ("0 3 1/32 * ? *", "day-of-month field: step '/32' must be a positive number, at most 31"),
        ("0 3 1 */13 ? *", "month field: step '/13' must be a positive number, at most 12"),
        ("1/99999999999999999999 3 * * ? *", "minute field: step '/99999999999999999999'"),
    ],
)
def test_steps_beyond_what_eventbridge_takes_are_refused(expression: str, message: str) -> None:
    with pytest.raises(CronError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_cron(expression)


def test_the_largest_steps_eventbridge_takes_are_accepted() -> None:
    widest = parse_cron("0/59 0/23 1/31 1/12 ? *")
    assert (widest.minutes, widest.hours, sorted(widest.months)) == ((0, 59), (0, 23), [1])


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "99999999999999999999999 days",
            "'99999999999999999999999 days' is out of range (allowed 1-365 days, at most a year)",
        ),
        ("366 days", "(allowed 1-365 days, at most a year)"),
        ("8761 hours", "(allowed 1-8760 hours, at most a year)"),
        ("525601 minutes", "(allowed 1-525600 minutes, at most a year)"),
        ("0 minutes", "'0 minutes' is out of range (allowed 1-525600 minutes"),
    ],
)
def test_rates_longer_than_a_year_are_refused(expression: str, message: str) -> None:
    with pytest.raises(CronError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_rate(expression)


def test_a_rate_of_a_year_is_accepted_and_has_an_interval() -> None:
    assert parse_rate("365 days").interval.days == 365
    assert parse_rate("rate(525600 minutes)").interval.days == 365


def test_rate_value_is_ascii_digits() -> None:
    with pytest.raises(CronError, match="not '<number> <unit>'"):
        parse_rate("\u0663 days")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("minute", "61", "minute field: 61 is out of range (allowed 0-59)"),
        ("hour", "?", "hour field: '?' is only allowed in day-of-month or day-of-week"),
        ("day-of-month", "32W", "day-of-month field: 32 is out of range (allowed 1-31)"),
        ("month", "FOO", "month field: 'FOO' is not a number (allowed 1-12 or JAN-DEC)"),
        ("day-of-week", "2#6", "day-of-week field: '#6' must be 1-5 (the n-th weekday)"),
        ("year", "1969", "year field: 1969 is out of range (allowed 1970-2199)"),
    ],
)
def test_check_field_judges_one_field_as_parse_cron_does(
    name: str, text: str, message: str
) -> None:
    with pytest.raises(CronError) as raised:
        check_field(name, text)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("minute", "0/15"),
        ("hour", "8-18"),
        ("day-of-month", "LW"),
        ("day-of-month", "?"),
        ("month", "JAN-MAR"),
        ("day-of-week", "MON-FRI"),
        ("day-of-week", "6L"),
        ("year", "*"),
    ],
)
def test_check_field_accepts_what_parse_cron_accepts(name: str, text: str) -> None:
    check_field(name, text)


def test_rate_expressions() -> None:
    assert parse_rate("rate(1 hour)").interval.total_seconds() == 3600
    assert parse_rate("5 minutes").interval.total_seconds() == 300
    with pytest.raises(CronError, match="write '1 day'"):
        parse_rate("1 days")
    with pytest.raises(CronError, match="write '2 hours'"):
        parse_rate("2 hour")
    with pytest.raises(CronError, match="not '<number> <unit>'"):
        parse_rate("every hour")


def test_parse_schedule_dispatches_on_the_keyword() -> None:
    assert parse_schedule("rate(2 days)").interval.days == 2  # type: ignore[union-attr]
    assert parse_schedule("cron(0 3 * * ? *)").hours == (3,)  # type: ignore[union-attr]
    with pytest.raises(CronError, match=r"must be cron\(\.\.\.\) or rate\(\.\.\.\)"):
        parse_schedule("0 3 * * ? *")


# Every example of the EventBridge user guide's "Schedule expressions for rules" page (its table,
# its `put-rule` commands and its wildcard descriptions) and of the EventBridge Scheduler guide's
# "Schedule types" page, each with a start and the ticks that follow it as the guide describes
# them. Thursday 2026-11-26 12:00 UTC is the usual start; 1 Nov 2026 is a Sunday.
DOCUMENTED_EXAMPLES = [
    # the table: 10:00 every day
    ("cron(0 10 * * ? *)", "2026-11-26T12:00", ["2026-11-27T10:00", "2026-11-28T10:00"]),
    # 12:15 every day
    ("cron(15 12 * * ? *)", "2026-11-26T12:00", ["2026-11-26T12:15", "2026-11-27T12:15"]),
    # 18:00 Monday to Friday: not on the weekend
    (
        "cron(0 18 ? * MON-FRI *)",
        "2026-11-26T12:00",
        ["2026-11-26T18:00", "2026-11-27T18:00", "2026-11-30T18:00"],
    ),
    # 08:00 on the first day of every month
    ("cron(0 8 1 * ? *)", "2026-11-26T12:00", ["2026-12-01T08:00", "2027-01-01T08:00"]),
    # every 15 minutes
    (
        "cron(0/15 * * * ? *)",
        "2026-11-26T12:00",
        ["2026-11-26T12:15", "2026-11-26T12:30", "2026-11-26T12:45", "2026-11-26T13:00"],
    ),
    # every 10 minutes Monday to Friday: Friday's last, then Monday's first
    ("cron(0/10 * ? * MON-FRI *)", "2026-11-27T23:45", ["2026-11-27T23:50", "2026-11-30T00:00"]),
    # every 5 minutes Monday to Friday between 8:00 and 17:55
    (
        "cron(0/5 8-17 ? * MON-FRI *)",
        "2026-11-26T17:50",
        ["2026-11-26T17:55", "2026-11-27T08:00", "2026-11-27T08:05"],
    ),
    # every 30 minutes Monday to Friday from the evening into the next morning, and from
    # midnight to 2 am on Monday morning: Friday evening fires, Saturday morning does not
    (
        "cron(0/30 20-2 ? * MON-FRI *)",
        "2026-11-27T23:00",
        [
            "2026-11-27T23:30",
            "2026-11-30T00:00",
            "2026-11-30T00:30",
            "2026-11-30T01:00",
            "2026-11-30T01:30",
            "2026-11-30T02:00",
            "2026-11-30T02:30",
            "2026-11-30T20:00",
        ],
    ),
    # put-rule: every day at 12:00 (a tick exactly at the start is not after it)
    ("cron(0 12 * * ? *)", "2026-11-26T12:00", ["2026-11-27T12:00", "2026-11-28T12:00"]),
    # put-rule: every day at 14:05 and 14:35
    (
        "cron(5,35 14 * * ? *)",
        "2026-11-26T12:00",
        ["2026-11-26T14:05", "2026-11-26T14:35", "2026-11-27T14:05"],
    ),
    # put-rule: 10:15 on the last Friday of each month in 2019-2022 (1 Jan 2019 is a Tuesday)
    (
        "cron(15 10 ? * 6L 2019-2022)",
        "2018-12-31T00:00",
        ["2019-01-25T10:15", "2019-02-22T10:15", "2019-03-29T10:15"],
    ),
    # … and the last one of all: Friday 30 Dec 2022
    ("cron(15 10 ? * 6L 2019-2022)", "2022-12-01T00:00", ["2022-12-30T10:15", None]),
    # the Scheduler guide's create-schedule example: the same in 2022-2023
    (
        "cron(15 10 ? * 6L 2022-2023)",
        "2023-11-01T00:00",
        ["2023-11-24T10:15", "2023-12-29T10:15", None],
    ),
    # wildcards: ',' JAN,FEB,MAR in the month field
    (
        "cron(0 0 1 JAN,FEB,MAR ? *)",
        "2026-11-26T12:00",
        ["2027-01-01T00:00", "2027-02-01T00:00", "2027-03-01T00:00", "2028-01-01T00:00"],
    ),
    # '-': days 1 through 15 of the month
    (
        "cron(0 0 1-15 * ? *)",
        "2026-11-14T12:00",
        ["2026-11-15T00:00", "2026-12-01T00:00", "2026-12-02T00:00"],
    ),
    # '*' in the hours field: every hour
    ("cron(0 * * * ? *)", "2026-11-26T12:00", ["2026-11-26T13:00", "2026-11-26T14:00"]),
    # '/': 1/10 in the minutes field is the 1st, 11th, 21st … minute
    (
        "cron(1/10 * * * ? *)",
        "2026-11-26T12:00",
        [
            "2026-11-26T12:01",
            "2026-11-26T12:11",
            "2026-11-26T12:21",
            "2026-11-26T12:31",
            "2026-11-26T12:41",
            "2026-11-26T12:51",
            "2026-11-26T13:01",
        ],
    ),
    # '?': day-of-month 7, any day of the week
    ("cron(0 0 7 * ? *)", "2026-11-26T12:00", ["2026-12-07T00:00", "2027-01-07T00:00"]),
    # 'L' in day-of-month: the last day of the month, 29 February in a leap year
    (
        "cron(0 0 L * ? *)",
        "2028-01-31T12:00",
        ["2028-02-29T00:00", "2028-03-31T00:00", "2028-04-30T00:00"],
    ),
    # 'L' in day-of-week: the last day of the week, Saturday
    ("cron(0 0 ? * L *)", "2026-11-26T12:00", ["2026-11-28T00:00", "2026-12-05T00:00"]),
    # 'W': 3W is the weekday closest to the 3rd; Saturday 3 Oct 2026 gives Friday the 2nd,
    # Sunday 3 Jan 2027 gives Monday the 4th
    (
        "cron(0 9 3W * ? *)",
        "2026-09-30T12:00",
        ["2026-10-02T09:00", "2026-11-03T09:00", "2026-12-03T09:00", "2027-01-04T09:00"],
    ),
    # '#': 3#2 is the second Tuesday of the month
    ("cron(0 9 ? * 3#2 *)", "2026-11-26T12:00", ["2026-12-08T09:00", "2027-01-12T09:00"]),
    # limitations: nothing faster than a minute, so '*' in the minutes field is each minute
    (
        "cron(* * * * ? *)",
        "2026-11-26T12:00",
        ["2026-11-26T12:01", "2026-11-26T12:02", "2026-11-26T12:03"],
    ),
]


@pytest.mark.parametrize(("expression", "start", "first_ticks"), DOCUMENTED_EXAMPLES)
def test_the_documented_examples_fire_when_the_docs_say(
    expression: str, start: str, first_ticks: list[str | None]
) -> None:
    cron = parse_cron(expression)
    tick: datetime | None = at(start)
    seen: list[str | None] = []
    for _ in first_ticks:
        assert tick is not None
        tick = cron.next_after(tick)
        seen.append(None if tick is None else f"{tick:%Y-%m-%dT%H:%M}")
    assert seen == first_ticks


def test_the_documented_bounded_cron_has_a_last_tick_looking_back() -> None:
    last_fridays = parse_cron("cron(15 10 ? * 6L 2019-2022)")
    assert last_fridays.latest_at_or_before(at("2030-01-01T00:00")) == at("2022-12-30T10:15")
    assert last_fridays.latest_at_or_before(at("2019-01-25T10:14")) is None


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        # '#': "3#1,6#3" is two expressions, and the field takes one
        ("cron(0 9 ? * 3#1,6#3 *)", "with '#' the field takes one expression only"),
        # '*' in both day fields
        ("cron(0 9 * * * *)", "exactly one of day-of-month and day-of-week must be '?'"),
        # a value in both day fields
        ("cron(0 9 7 * MON *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("cron(0 9 ? * ? *)", "exactly one of day-of-month and day-of-week must be '?'"),
    ],
)
def test_what_the_docs_call_invalid_is_refused(expression: str, message: str) -> None:
    with pytest.raises(CronError, match=re.escape(message)):
        parse_cron(expression)


@pytest.mark.parametrize(
    ("expression", "minutes"),
    [("rate(1 minute)", 1), ("rate(5 minutes)", 5), ("rate(1 hour)", 60), ("rate(1 day)", 1440)],
)
def test_the_documented_rates(expression: str, minutes: int) -> None:
    assert parse_rate(expression).interval == timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("expression", "wanted"), [("rate(1 hours)", "1 hour"), ("rate(5 hour)", "5 hours")]
)
def test_the_documented_invalid_rates_are_refused(expression: str, wanted: str) -> None:
    with pytest.raises(CronError, match=f"write '{wanted}'"):
        parse_rate(expression)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        # the docs list no '/' for day-of-week (, - * ? L #)
        ("0 3 ? * */2 *", "day-of-week field: '/' is not allowed (day-of-week takes , - * ? L #)"),
        ("0 3 ? * MON/2 *", "day-of-week field: '/' is not allowed"),
        # 'L', 'W', '#' and '?' where the docs do not list them
        ("L 3 * * ? *", "minute field: 'L' is only allowed in day-of-month or day-of-week"),
        ("0 3 * 6L ? *", "month field: '6L': 'L' is only allowed in day-of-month or day-of-week"),
        ("0 15W * * ? *", "hour field: '15W': 'W' is only allowed in day-of-month"),
        ("0 3 ? * 3W *", "day-of-week field: '3W': 'W' is only allowed in day-of-month"),
        ("0 3 ? * LW *", "day-of-week field: 'LW': 'W' is only allowed in day-of-month"),
        ("0 3 2#1 * ? *", "day-of-month field: '2#1': '#' is only allowed in day-of-week"),
        ("0 3 * * ? 2027#1", "year field: '2027#1': '#' is only allowed in day-of-week"),
        ("0 1,? * * ? *", "hour field: '?' is only allowed in day-of-month or day-of-week"),
        # 'L', 'W', 'LW', 'nL' and '?' are a whole field, not an element of a list or range
        ("0 3 L,15 * ? *", "day-of-month field: 'L' must be the whole field, not part of a list"),
        ("0 3 1-15W * ? *", "day-of-month field: '15W' must be the whole field"),
        ("0 3 1W,15W * ? *", "day-of-month field: '1W' must be the whole field"),
        ("0 3 ?,1 * ? *", "day-of-month field: '?' must be the whole field"),
        ("0 3 ? * 2,6L *", "day-of-week field: '6L' must be the whole field"),
        ("0 3 ? * FRIL-SAT *", "day-of-week field: 'FRIL' must be the whole field"),
        # a '/' needs a start before it and a number after it; a range needs both ends
        ("/5 3 * * ? *", "minute field: '/5' needs a start before the '/' (e.g. '0/5' or '*/5')"),
        ("5- 3 * * ? *", "minute field: range '5-' needs a value at each end"),
        ("0 -3 * * ? *", "hour field: range '-3' needs a value at each end"),
        (
            "0 3 W * ? *",
            "day-of-month field: 'W' needs a day before it "
            "(e.g. '15W', the weekday nearest the 15th)",
        ),
    ],
)
def test_wildcards_only_where_the_docs_list_them(expression: str, message: str) -> None:
    with pytest.raises(CronError, match=re.escape(message)):
        parse_cron(expression)


@pytest.mark.parametrize(
    "expression",
    [
        "0 3 ? * FRIL *",  # a weekday name before 'L' or '#'
        "0 3 ? * FRI#3 *",
        "0 3 LW * ? *",  # the last weekday of the month
        "0 3 ? * sun-sat *",
        "0 3 * jul ? *",  # names in any case; JUL is a month, not an 'L'
        "0 3 ? * WED *",  # nor is WED a 'W'
        "0 3 * * ? 2020/2",  # '/' in the year field
    ],
)
def test_names_that_look_like_wildcards_and_other_documented_forms_are_accepted(
    expression: str,
) -> None:
    parse_cron(expression)


def test_an_hour_range_that_wraps_midnight_covers_the_night_and_not_the_day() -> None:
    cron = parse_cron("cron(0/30 20-2 ? * MON-FRI *)")
    hours = sorted(
        {t.hour for t in cron.ticks_between(at("2026-11-30T00:00"), at("2026-12-01T00:00"))}
    )
    assert hours == [0, 1, 2, 20, 21, 22, 23]
    # a wrapping weekday range: Friday to Monday
    weekend = parse_cron("cron(0 9 ? * FRI-MON *)")
    days = [
        t.strftime("%a")
        for t in weekend.ticks_between(at("2026-11-26T12:00"), at("2026-12-03T12:00"))
    ]
    assert days == ["Fri", "Sat", "Sun", "Mon"]
