"""What happened in the sandbox, in virtual-time order: the story `dpc demo` tells.

Three kinds of entries are the public record (``--json``, one object a line):
``{"time", "account", "pipeline", "execution", "status"}`` for a state-machine status change,
``{"time", "trigger": {"pipeline", "account", "trigger_id", "causes"}}`` for a trigger the
trigger manager published, ``{"time", "alert": {"channel", "to", "text", "thread"}}`` for an
alert that reached the outbox. Notes (the narrator's lines: a fault injected, a put refused,
a handler that failed) only show in the human timeline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from rich.console import Console
from rich.markup import escape


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class StatusChange:
    time: datetime
    account: str
    pipeline: str
    execution: str
    status: str

    def as_json(self) -> dict[str, Any]:
        return {
            "time": iso(self.time),
            "account": self.account,
            "pipeline": self.pipeline,
            "execution": self.execution,
            "status": self.status,
        }


@dataclass(frozen=True)
class TriggerPublished:
    time: datetime
    pipeline: str
    account: str
    trigger_id: str
    causes: tuple[dict[str, Any], ...]
    period: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "time": iso(self.time),
            "trigger": {
                "pipeline": self.pipeline,
                "account": self.account,
                "trigger_id": self.trigger_id,
                "causes": list(self.causes),
                "period": self.period,
            },
        }


@dataclass(frozen=True)
class Alert:
    time: datetime
    channel: str
    to: str
    text: str
    thread: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "time": iso(self.time),
            "alert": {
                "channel": self.channel,
                "to": self.to,
                "text": self.text,
                "thread": self.thread,
            },
        }


@dataclass(frozen=True)
class Note:
    time: datetime
    text: str
    level: str = "info"
    """``info`` (the story), ``refused`` (a put the bus policy refused), ``error``."""


Entry = StatusChange | TriggerPublished | Alert | Note
EntryT = TypeVar("EntryT", StatusChange, TriggerPublished, Alert, Note)


@dataclass
class Timeline:
    entries: list[Entry] = field(default_factory=list)

    def add(self, entry: Entry) -> None:
        self.entries.append(entry)

    def of(self, kind: type[EntryT]) -> list[EntryT]:
        return [e for e in self.entries if isinstance(e, kind)]

    def json_lines(self) -> list[str]:
        return [
            json.dumps(entry.as_json()) for entry in self.entries if not isinstance(entry, Note)
        ]

    def render(self, console: Console, names: dict[str, str] | None = None) -> None:
        """A readable timeline; ``names`` labels account ids (``111111111111`` → ``A``)."""
        names = names or {}
        day = None
        for entry in _merge_alerts(self.entries):
            moment = entry.time.astimezone(UTC)
            if moment.date() != day:
                day = moment.date()
                console.print(f"\n[bold]── {day.isoformat()} ──[/]")
            console.print(f"  [dim]{moment:%H:%M}[/]  {_describe(entry, names)}")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _merge_alerts(entries: list[Entry]) -> list[Entry]:
    """One line per alert message, naming every recipient (e-mail and Slack get the same
    text); the full messages are in ``--json``."""
    merged: list[Entry] = []
    for entry in entries:
        previous = merged[-1] if merged else None
        if (
            isinstance(entry, Alert)
            and isinstance(previous, Alert)
            and previous.time == entry.time
            and _first_line(previous.text) == _first_line(entry.text)
        ):
            recipients = f"{previous.to}, {entry.channel.lower()} {entry.to}"
            merged[-1] = Alert(previous.time, previous.channel, recipients, previous.text)
        else:
            merged.append(entry)
    return merged


_STATUS_STYLE = {
    "RUNNING": "cyan",
    "SUCCEEDED": "green",
    "FAILED": "bold red",
    "TIMED_OUT": "red",
    "ABORTED": "yellow",
}


def _label(account: str, names: dict[str, str]) -> str:
    name = names.get(account)
    return f"{name} {account}" if name else account


def _describe(entry: Entry, names: dict[str, str]) -> str:
    if isinstance(entry, StatusChange):
        style = _STATUS_STYLE.get(entry.status, "white")
        return (
            f"[bold]{escape(entry.pipeline)}[/] [dim]({_label(entry.account, names)})[/] "
            f"[{style}]{entry.status}[/] [dim]{escape(entry.execution)}[/]"
        )
    if isinstance(entry, TriggerPublished):
        causes = ", ".join(
            f"{c.get('pipeline')} {c.get('status')} ({c.get('execution')})" for c in entry.causes
        )
        period = f" for {entry.period}" if entry.period else ""
        return (
            f"[magenta]trigger[/] → [bold]{escape(entry.pipeline)}[/]{escape(period)} "
            f"[dim]({_label(entry.account, names)})[/] because {escape(causes)}"
        )
    if isinstance(entry, Alert):
        return (
            f"[yellow]alert[/] {entry.channel.lower()} {escape(entry.to)}: "
            f"{escape(_first_line(entry.text))}"
        )
    style = {"refused": "bold yellow", "error": "bold red", "chaos": "magenta"}.get(
        entry.level, "italic"
    )
    return f"[{style}]{escape(entry.text)}[/]"
