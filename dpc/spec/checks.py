"""Rules the JSON Schema cannot express: cron ranges, durations, scripts on disk, duplicates,
self-dependencies. They read the raw data defensively (the schema may have failed elsewhere),
so one run reports every problem in the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dpc.spec.errors import Finding
from dpc.spec.limits import limit_findings
from dpc.spec.source import Document, JsonPath
from dpc.triggers.cron import (
    CronError,
    CronExpression,
    RateExpression,
    check_field,
    parse_cron,
    parse_rate,
    parse_schedule,
)
from dpc.triggers.deadlines import DeadlineError, is_deadline_text, parse_expect
from dpc.triggers.periods import (
    MAX_PERIOD_SPAN,
    MAX_WITHIN,
    UNITS,
    PeriodSpec,
    period_containing,
)

_DURATION = re.compile(r"(?=\d)(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?")
CRON_FIELDS = ("minute", "hour", "day", "month", "weekDay", "year")
_CRON_FIELD_NAMES = {
    "minute": "minute",
    "hour": "hour",
    "day": "day-of-month",
    "month": "month",
    "weekDay": "day-of-week",
    "year": "year",
}
MAX_TIMEOUT = timedelta(days=365)
"""A Step Functions standard workflow runs at most a year, so a longer timeout cannot deploy."""
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_SLACK_CHANNEL = re.compile(r"#?[A-Za-z0-9][A-Za-z0-9._-]{0,79}")


def parse_duration(text: str) -> timedelta | None:
    """``90m``, ``24h``, ``2d``, ``1d12h``; None when the text is not a duration, or is one
    too long for any clock (``9999999999d``), so callers never meet an OverflowError."""
    match = _DURATION.fullmatch(text)
    if not match:
        return None
    try:
        days, hours, minutes = (int(group or 0) for group in match.groups())
        return timedelta(days=days, hours=hours, minutes=minutes)
    except (OverflowError, ValueError):  # beyond timedelta, or more digits than int() reads
        return None


def parse_signed_duration(text: str) -> timedelta | None:
    """``-1d``, ``+2h``, ``0h``: a period offset; None when the text is not one."""
    sign = -1 if text.startswith("-") else 1
    duration = parse_duration(text.lstrip("+-")) if text[:1] in "+-" else parse_duration(text)
    return None if duration is None else sign * duration


def schedule_expression(schedule: dict[str, Any]) -> str:
    """The full EventBridge expression for a schedule mapping the schema accepted."""
    if "cron" in schedule:
        return f"cron({parse_cron(str(schedule['cron'])).expression})"
    if "rate" in schedule:
        return f"rate({parse_rate(str(schedule['rate'])).expression})"
    fields = {name: str(schedule[name]).strip() for name in CRON_FIELDS if name in schedule}
    day = fields.get("day", "?" if "weekDay" in fields else "*")
    week_day = fields.get("weekDay", "?")
    minute, hour = fields.get("minute", "0"), fields.get("hour", "*")
    month, year = fields.get("month", "*"), fields.get("year", "*")
    return f"cron({parse_cron(f'{minute} {hour} {day} {month} {week_day} {year}').expression})"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def semantic_findings(document: Document, project_dir: Path) -> list[Finding]:
    data = _dict(document.data)
    return [
        *_schedule_findings(document, _dict(_dict(data.get("trigger")).get("schedule"))),
        *_execution_findings(document, data),
        *_period_findings(document, data),
        *limit_findings(document, data),
        *_duration_findings(document, data),
        *_step_findings(document, _list(data.get("steps")), project_dir),
        *_notification_findings(document, _dict(data.get("notifications"))),
        *_expect_findings(document, data),
    ]


DEADLINE_SAMPLE_PERIODS = 40
"""How many consecutive periods a deadline is checked against its schedule: enough to meet
every weekday and month length a cron can single out."""
DEADLINE_SAMPLE_START = datetime(2026, 1, 1, tzinfo=UTC)


def _expect_findings(document: Document, data: dict[str, Any]) -> Iterator[Finding]:
    """A deadline dpc can compute, and one the schedule can meet: the data of a period
    cannot be due before the scheduled run that makes it has even started."""
    by = _dict(data.get("expect")).get("by")
    if not isinstance(by, str) or not is_deadline_text(by):
        return  # absent, or the schema reports it
    path: JsonPath = ("expect", "by")
    try:
        expect = parse_expect(by)
    except DeadlineError as error:
        yield document.finding(path, str(error))
        return
    period = _dict(data.get("period"))
    unit = period.get("unit", "day")
    if expect.at is not None and unit == "hour":
        yield document.finding(
            path,
            f"'{by}' is a time of day; an hourly period's data is due a duration after "
            "the hour ends, e.g. 45m",
        )
        return
    schedule = _dict(_dict(data.get("trigger")).get("schedule"))
    offset = parse_signed_duration(str(period.get("offset", "0h")))
    if not schedule or offset is None or unit not in UNITS:
        return
    try:
        ticks = parse_schedule(schedule_expression(schedule))
    except CronError:
        return  # reported with the schedule
    spec = PeriodSpec(unit, offset)
    first = period_containing(unit, DEADLINE_SAMPLE_START)
    for _ in range(DEADLINE_SAMPLE_PERIODS):
        tick = _first_tick(ticks, first.start - offset, first.end - offset)
        due = expect.due(first, spec)
        if tick is not None and due < tick:
            yield document.finding(
                path,
                f"'{by}' comes before the scheduled run that makes the period: the "
                f"{first} run starts {tick:%Y-%m-%d %H:%M} and would be due {due:%Y-%m-%d %H:%M}",
            )
            return
        first = first.next()


def _first_tick(
    schedule: CronExpression | RateExpression, start: datetime, end: datetime
) -> datetime | None:
    """The schedule's first tick in [start, end): the run whose period this is."""
    if isinstance(schedule, RateExpression):
        return start
    tick = schedule.next_after(start - timedelta(minutes=1))
    return tick if tick is not None and tick < end else None


def _schedule_findings(document: Document, schedule: dict[str, Any]) -> Iterator[Finding]:
    path: JsonPath = ("trigger", "schedule")
    forms = [form for form in ("cron", "rate") if form in schedule]
    fields = [name for name in CRON_FIELDS if name in schedule]
    if len(forms) + bool(fields) > 1:
        written = ", ".join(forms + fields)
        yield document.finding(
            path,
            f"give one of: cron fields (minute, hour, ...), `cron` or `rate`; got {written}",
        )
        return
    if "day" in schedule and "weekDay" in schedule:
        yield document.finding(
            (*path, "weekDay"),
            "give day or weekDay, not both (EventBridge needs one of them to be '?')",
            at_key=True,
        )
        return
    if not schedule or any(isinstance(schedule[key], dict | list) for key in schedule):
        return  # the schema reports it
    spaced = [name for name in fields if len(str(schedule[name]).split()) > 1]
    for name in spaced:
        yield document.finding(
            (*path, name),
            f"'{schedule[name]}' is one cron field: no spaces (e.g. '8-18' or '1,15')",
        )
    if spaced:
        return
    bad_fields = False
    for name in fields:
        try:
            check_field(_CRON_FIELD_NAMES[name], str(schedule[name]).strip())
        except CronError as error:
            bad_fields = True
            yield document.finding((*path, name), str(error))
    if bad_fields:
        return
    try:
        schedule_expression(schedule)
    except CronError as error:  # a whole cron or rate, or how the fields combine
        yield document.finding((*path, forms[0]) if forms else path, str(error))


def _execution_findings(document: Document, data: dict[str, Any]) -> Iterator[Finding]:
    path: JsonPath = ("trigger", "executions")
    executions = _dict(_dict(data.get("trigger")).get("executions"))
    if not executions:
        return
    blocks = {block: _list(executions.get(block)) for block in ("allOf", "anyOf")}
    if not blocks["allOf"] and not blocks["anyOf"]:
        yield document.finding(path, "needs at least one parent in allOf or anyOf")
    reset = _dict(executions.get("reset")).get("cron")
    if isinstance(reset, str):
        try:
            parse_cron(reset)
        except CronError as error:
            yield document.finding((*path, "reset", "cron"), str(error))
    name, account = data.get("name"), data.get("account")
    own_account = account if isinstance(account, str) else ""
    for block, items in blocks.items():
        seen: dict[tuple[Any, Any], int] = {}
        for index, item in enumerate(items):
            item = _dict(item)
            parent = (item.get("name"), item.get("account") or own_account)
            if not all(isinstance(part, str) for part in parent):
                continue  # the schema reports it
            item_path = (*path, block, index)
            if parent == (name, own_account):
                yield document.finding(
                    (*item_path, "name"), f"pipeline '{name}' cannot depend on itself"
                )
            if parent in seen:
                yield document.finding(
                    item_path, f"parent '{parent[0]}' is already listed at {block}[{seen[parent]}]"
                )
            seen.setdefault(parent, index)


def _period_findings(document: Document, data: dict[str, Any]) -> Iterator[Finding]:
    """§5b: which options go with which correlation, and the bounds of offset and keep."""
    path: JsonPath = ("trigger", "executions")
    executions = _dict(_dict(data.get("trigger")).get("executions"))
    correlated = executions.get("correlate") == "period"
    if correlated:
        for option in ("within", "reset"):
            if option in executions:
                yield document.finding(
                    (*path, option),
                    f"{option} does not go with correlate: period (periods replace it: a "
                    "child's period only pairs parent runs of that period)",
                    at_key=True,
                )
    else:
        for option in ("rerun", "keep"):
            if option in executions:
                yield document.finding(
                    (*path, option), f"{option} needs correlate: period", at_key=True
                )
        for block in ("allOf", "anyOf"):
            for index, item in enumerate(_list(executions.get(block))):
                if "every" in _dict(item):
                    yield document.finding(
                        (*path, block, index, "every"),
                        "every needs correlate: period (it counts the parent's periods "
                        "inside this pipeline's period)",
                        at_key=True,
                    )
    keep = executions.get("keep")
    if isinstance(keep, str) and _DURATION.fullmatch(keep):
        duration = parse_duration(keep)
        if duration == timedelta(0):
            yield document.finding((*path, "keep"), f"'{keep}' is zero; give e.g. 35d")
        elif duration is None or duration > MAX_PERIOD_SPAN:
            yield document.finding(
                (*path, "keep"), f"'{keep}' is too long; keep allows 1m to {MAX_PERIOD_SPAN.days}d"
            )
    offset = _dict(data.get("period")).get("offset")
    if isinstance(offset, str) and offset[:1] in "+-0123456789":
        shift = parse_signed_duration(offset)
        if shift is not None and abs(shift) > MAX_PERIOD_SPAN:
            yield document.finding(
                ("period", "offset"),
                f"'{offset}' is too long; offset allows -{MAX_PERIOD_SPAN.days}d to "
                f"+{MAX_PERIOD_SPAN.days}d",
            )
        elif shift is None:
            yield document.finding(
                ("period", "offset"), f"'{offset}' is too long; offset allows at most 366d"
            )


def _duration_findings(document: Document, data: dict[str, Any]) -> Iterator[Finding]:
    within = _dict(_dict(data.get("trigger")).get("executions")).get("within")
    for path, value, longest, why in (
        (("trigger", "executions", "within"), within, MAX_WITHIN, ""),
        (
            ("timeout",),
            data.get("timeout"),
            MAX_TIMEOUT,
            " (a Step Functions run lasts at most a year)",
        ),
    ):
        if not isinstance(value, str) or not _DURATION.fullmatch(value):
            continue  # the schema reports it
        duration = parse_duration(value)
        if duration == timedelta(0):
            yield document.finding(path, f"'{value}' is zero; give a positive duration such as 24h")
        elif duration is None or duration > longest:
            yield document.finding(
                path, f"'{value}' is too long; {path[-1]} allows 1m to {longest.days}d{why}"
            )


def _step_findings(document: Document, steps: list[Any], project_dir: Path) -> Iterator[Finding]:
    first_seen: dict[str, int] = {}
    for index, step in enumerate(steps):
        step = _dict(step)
        name = step.get("name")
        if isinstance(name, str):
            if name in first_seen:
                first_line = document.position(("steps", first_seen[name], "name")).line
                yield document.finding(
                    ("steps", index, "name"),
                    f"duplicate step name '{name}' (first used at line {first_line})",
                )
            first_seen.setdefault(name, index)
        script = step.get("script")
        if isinstance(script, str) and script:
            problem = _script_problem(script, project_dir)
            if problem:
                yield document.finding(("steps", index, "script"), problem)


def _script_problem(script: str, project_dir: Path) -> str | None:
    if Path(script).is_absolute():
        return f"'{script}' must be a path relative to the project folder"
    try:
        project = project_dir.resolve()
        target = (project / script).resolve()
        if not target.is_relative_to(project):
            return f"'{script}' points outside the project folder"
        if not target.exists():
            return f"file not found: {project_dir / script}"
        if not target.is_file():
            return f"'{script}' is a folder; expected a script file"
    except (OSError, ValueError) as error:  # a NUL byte, a name longer than the OS allows
        return f"'{script}' is not a usable path ({error})"
    return None


def _notification_findings(document: Document, notifications: dict[str, Any]) -> Iterator[Finding]:
    for index, target in enumerate(_list(notifications.get("targets"))):
        target = _dict(target)
        channel = target.get("channel")
        for position, address in enumerate(_list(target.get("addresses"))):
            if not isinstance(address, str) or not address:
                continue
            problem = _address_problem(channel, address)
            if problem:
                yield document.finding(
                    ("notifications", "targets", index, "addresses", position), problem
                )


def _address_problem(channel: Any, address: str) -> str | None:
    if channel == "EMAIL" and not _EMAIL.fullmatch(address):
        return f"'{address}' is not an e-mail address"
    if channel in ("OPSGENIE", "WEBHOOK") and not address.startswith("https://"):
        return f"'{address}' must be an https:// URL for {channel}"
    if channel == "SLACK" and not _SLACK_CHANNEL.fullmatch(address):
        return f"'{address}' is not a Slack channel name (letters, digits, '-', '_', '.')"
    return None
