"""How runs and explanations look on a terminal: shared by `dpc runs` / `dpc why` and by the
sandbox's `dpc demo`, so the demo shows exactly what a user will see later."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dpc.observe.central import Explanation
from dpc.observe.runlog import Run
from dpc.observe.status import PipelineStatus
from dpc.triggers.events import Evaluation, RunEvent
from dpc.triggers.model import ParentRef

STATUS_STYLES = {
    "SUCCEEDED": "green",
    "RUNNING": "cyan",
    "FAILED": "bold red",
    "TIMED_OUT": "magenta",
    "ABORTED": "yellow",
}


def clock(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def human_duration(duration: timedelta) -> str:
    seconds = max(int(duration.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{seconds:02d}s"
    return f"{seconds}s"


def _status(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def runs_table(runs: Sequence[Run], now: datetime) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    columns = ("PIPELINE", "ACCOUNT", "EXECUTION", "PERIOD", "STATUS", "STARTED (UTC)", "DURATION")
    for column in columns:
        table.add_column(column, no_wrap=True)
    table.add_column("TRIGGERED BY")
    for run in runs:
        duration = human_duration(run.duration(now))
        table.add_row(
            run.pipeline.name,
            run.pipeline.account,
            run.execution,
            run.period or "",
            _status(run.status),
            clock(run.started_at),
            duration + (" …" if run.stopped_at is None else ""),
            run.triggered_by,
        )
    return table


def _event(event: RunEvent) -> str:
    return f"{event.pipeline} {event.status} at {clock(event.time)} ({event.execution})"


def deciding(evaluations: Sequence[Evaluation]) -> Evaluation:
    """The newest evaluation that decided something: an ignored late event changes nothing,
    so it does not answer "why"."""
    return next((e for e in evaluations if e.result != "IGNORED"), evaluations[0])


def headline(child: ParentRef, latest: Evaluation) -> str:
    """One sentence answering "why did / didn't it run?" from the newest evaluation."""
    if latest.result == "TRIGGERED":
        return f"{child} was triggered after {_event(latest.event)} (trigger {latest.trigger_id})"
    if latest.result == "IGNORED":
        return f"{child}: every recent event was ignored — {'; '.join(latest.notes)}"
    if latest.result == "BLOCKED":
        return f"{child} did not run after {_event(latest.event)}: {latest.notes[-1]}"
    unmet = [item.reason for item in latest.items if not item.met]
    return f"{child} did not run after {_event(latest.event)}: " + "; ".join(unmet)


def period_headline(child: ParentRef, period: str, evaluations: Sequence[Evaluation]) -> str:
    """§5b P9: for one period, whether the child ran and which parent runs of that period are
    met, unmet or missing (from the newest evaluation that decided something)."""
    latest = deciding(evaluations)
    fired = [e for e in evaluations if e.result == "TRIGGERED"]
    ran = (
        f"ran for {period} {len(fired)} time(s), last after {_event(fired[0].event)}"
        if fired
        else f"has not run for {period}"
    )
    met = [item.reason for item in latest.items if item.met]
    missing = [item.reason for item in latest.items if not item.met and "no run" in item.reason]
    unmet = [item.reason for item in latest.items if not item.met and "no run" not in item.reason]
    parts = [f"{child} {ran}"]
    for word, reasons in (("met", met), ("unmet", unmet), ("missing", missing)):
        if reasons:
            parts.append(f"{word}: {'; '.join(reasons)}")
    if latest.result in ("IGNORED", "BLOCKED"):
        parts.append("; ".join(latest.notes))
    return " — ".join(parts)


def period_status_line(explanation: Explanation) -> str:
    """The pipeline's state for the period, in the words its late alert uses."""
    status, now = explanation.status, explanation.now
    assert status is not None and now is not None
    return f"{explanation.child} for {explanation.period}: {status.state} — {status.told_at(now)}"


def why_report(explanation: Explanation) -> RenderableType:
    child, evaluations = explanation.child, explanation.evaluations
    registration = explanation.registration
    parts: list[RenderableType] = []
    condition = registration.trigger.executions if registration else None
    schedule = registration.trigger.schedule if registration else None
    if registration is not None and condition is None:
        when = f"on its schedule {schedule.expression}" if schedule else "only when started by hand"
        parts.append(Text(f"{child} runs {when}; it waits for no other pipeline."))
    elif schedule is not None:
        parts.append(Text(f"{child} also runs on its schedule {schedule.expression}.", style="dim"))
    if explanation.status is not None and explanation.now is not None:
        parts.append(Text(period_status_line(explanation), style="bold"))
    if not evaluations:
        parents = ", ".join(str(p) for p in condition.parents) if condition else ""
        scope = f" for {explanation.period}" if explanation.period else ""
        waiting = f": none of its parents ({parents}) reported a run{scope}" if parents else ""
        parts.append(
            Text(f"No evaluation of {child}{scope} recorded (records are kept 30 days){waiting}.")
        )
        return Group(*parts)
    if explanation.period is not None:
        parts.append(Text(period_headline(child, explanation.period, evaluations), style="bold"))
    else:
        parts.append(Text(headline(child, deciding(evaluations)), style="bold"))
    parts.append(Text(""))
    parts.append(Text(f"Recent evaluations, newest first ({len(evaluations)}):", style="dim"))
    for evaluation in evaluations:
        parts.append(evaluation_text(evaluation))
    return Group(*parts)


RESULT_WORDS = {
    "TRIGGERED": "TRIGGERED",
    "NOT_MET": "not met",
    "IGNORED": "ignored",
    "BLOCKED": "BLOCKED (cycle)",
}
RESULT_STYLES = {"TRIGGERED": "bold green", "NOT_MET": "yellow", "IGNORED": "dim", "BLOCKED": "red"}


def evaluation_text(evaluation: Evaluation) -> Text:
    text = Text()
    text.append(f"{clock(evaluation.evaluated_at)}  ", style="dim")
    text.append("event ")
    text.append(str(evaluation.event.pipeline), style="bold")
    text.append(" ")
    text.append_text(_status(evaluation.event.status))
    text.append(f" at {clock(evaluation.event.time)} ({evaluation.event.execution})  → ")
    text.append(RESULT_WORDS[evaluation.result], style=RESULT_STYLES[evaluation.result])
    if evaluation.period is not None:
        text.append(f"  for {evaluation.period}")
    if evaluation.trigger_id:
        text.append(f"  trigger {evaluation.trigger_id}")
    for note in evaluation.notes:
        text.append(f"\n    note: {note}", style="italic")
    for item in evaluation.items:
        mark, style = ("✓", "green") if item.met else ("✗", "red")
        text.append(f"\n    {mark} ", style=style)
        text.append(f"{item.block} {item.parent} [{'|'.join(item.statuses)}]: ", style="dim")
        text.append(item.reason)
    return text


STATE_STYLES = {
    "done": "green",
    "running": "cyan",
    "failed": "bold red",
    "late": "bold magenta",
    "waiting": "yellow",
}


def status_table(period: str, statuses: Sequence[PipelineStatus]) -> Table:
    table = Table(title=f"Period {period}", title_justify="left", box=None, pad_edge=False)
    for column in ("pipeline", "account", "state", "detail"):
        table.add_column(column)
    for status in statuses:
        table.add_row(
            status.pipeline.name,
            status.pipeline.account,
            Text(status.state, style=STATE_STYLES[status.state]),
            status.detail,
        )
    return table
