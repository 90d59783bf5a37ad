"""How dpc writes and reads times and durations: one fixed-width form for sort keys, Step
Functions' own form for event JSON (and so for trigger ids), and short human forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def format_time(moment: datetime) -> str:
    """ISO-8601 UTC with a ``Z``, always with milliseconds: the stores use these strings as
    sort keys, and only a fixed-width form sorts as time does (``…00Z`` > ``…00.500Z``).
    ``parse_time`` still reads the older form without milliseconds."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_event_time(moment: datetime) -> str:
    """The form of Step Functions' own event times (``…T03:10:00Z``), milliseconds only when
    there are some. Event JSON keeps it (trigger details, ``simulate``'s output, and so
    trigger ids, rule 7); it is never a sort key, which ``format_time`` is for."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


def parse_time(text: str) -> datetime:
    """Parse an ISO-8601 time; a time without an offset is UTC. Precision: milliseconds."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def readable(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def format_duration(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
