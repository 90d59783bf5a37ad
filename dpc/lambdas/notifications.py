"""What a pipeline's notification type lets through, and the one message every target gets.

Pure code: the execution tracker turns Step Functions history events into ``Notice``s, asks
``wanted`` whether the pipeline's ``notifications.type`` lets each one through, and sends
``render_text`` to every target (e-mail, OpsGenie, webhooks through SNS; Slack through the
central Slack API). One text for every channel keeps what the e-mail says and what the Slack
thread says identical, so a team never has to reconcile two versions of an incident.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from dpc.triggers.model import TERMINAL_STATUSES, Status

NotificationType = Literal["FULL_EXECUTION", "ON_FAILURE", "ON_FINISH"]
NOTIFICATION_TYPES: tuple[NotificationType, ...] = ("FULL_EXECUTION", "ON_FAILURE", "ON_FINISH")
FAILURE_STATUSES: frozenset[str] = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})

MAX_CAUSE_CHARS = 600
"""Step Functions causes can be whole stack traces; the console link has the rest."""

SNS_SUBJECT_MAX_CHARS = 100


def _failed_step(cause: str | None) -> dict[str, Any] | None:
    """The ``Step`` of a failed EMR step's cause (its DescribeStep answer, as JSON), or None
    for any other cause."""
    if not cause or not cause.lstrip().startswith("{"):
        return None
    try:
        step = json.loads(cause)["Step"]
    except (ValueError, KeyError, TypeError):
        return None
    return step if isinstance(step, dict) else None


def readable_cause(cause: str | None) -> str | None:
    """An EMR step's failure arrives as the whole DescribeStep answer in JSON; people need
    its ``FailureDetails`` (reason, message, log file). Other causes stay as they are."""
    try:
        failure = (_failed_step(cause) or {})["Status"]["FailureDetails"]
    except (KeyError, TypeError):
        return cause
    text = ": ".join(str(failure[k]) for k in ("Reason", "Message") if failure.get(k))
    if failure.get("LogFile"):
        text = f"{text} (log: {failure['LogFile']})" if text else f"log: {failure['LogFile']}"
    return text or cause


def failed_step_of(cause: str | None) -> str | None:
    """The EMR step a failure's cause names, or None for any other cause."""
    name = (_failed_step(cause) or {}).get("Name")
    return name if isinstance(name, str) else None


@dataclass(frozen=True)
class Notice:
    """One thing that happened to one run: the run itself (``step`` None) or one of its steps."""

    pipeline: str
    account: str
    region: str
    execution_arn: str
    status: Status
    time: datetime
    step: str | None = None
    duration: timedelta | None = None
    """Run or step duration, known once it ended and its start was seen."""
    error: str | None = None
    cause: str | None = None
    failed_step: str | None = None
    """For a failed run: the step whose failure failed it, when one did."""

    @property
    def execution(self) -> str:
        """The execution's name: the last part of its ARN (``…:execution:<machine>:<name>``)."""
        return self.execution_arn.rsplit(":", 1)[-1]

    @property
    def is_run_end(self) -> bool:
        return self.step is None and self.status in TERMINAL_STATUSES


def wanted(notification_type: NotificationType, notice: Notice) -> bool:
    """FULL_EXECUTION: everything; ON_FINISH: every end of a run; ON_FAILURE: failed runs only.

    Step-level failures are not a run failure (a later run-level event says whether the run
    failed), so ON_FAILURE waits for the run's end and reports the failing step there.
    """
    if notification_type == "FULL_EXECUTION":
        return True
    if not notice.is_run_end:
        return False
    return notification_type == "ON_FINISH" or notice.status in FAILURE_STATUSES


def console_url(notice: Notice) -> str:
    """The execution's page in the Step Functions console, where its whole history is."""
    region = notice.region
    arn = quote(notice.execution_arn, safe=":")
    return (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{arn}"
    )


def format_duration(duration: timedelta) -> str:
    """``1h 02m 03s`` / ``12m 05s`` / ``45s``: readable at a glance, sortable by eye."""
    seconds = max(0, int(duration.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {seconds:02d}s"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"


def headline(notice: Notice) -> str:
    """The first line, also the e-mail subject: pipeline, what happened, where."""
    if notice.step is not None:
        what = "started" if notice.status == "RUNNING" else notice.status
        return f"[dpc] {notice.pipeline}: step {notice.step} {what}"
    if notice.status == "RUNNING":
        return f"[dpc] {notice.pipeline}: run started"
    where = f" at step {notice.failed_step}" if notice.failed_step else ""
    return f"[dpc] {notice.pipeline}: run {notice.status}{where}"


def subject(notice: Notice) -> str:
    """SNS subjects must be at most 100 ASCII characters, without line breaks."""
    text = headline(notice).encode("ascii", "replace").decode("ascii")
    if len(text) <= SNS_SUBJECT_MAX_CHARS:
        return text
    return text[: SNS_SUBJECT_MAX_CHARS - 3] + "..."


def render_text(notice: Notice) -> str:
    """The message: a headline, then one labelled line per fact that is known."""
    step = notice.step or notice.failed_step
    error = _error_line(notice)
    fields: list[tuple[str, str | None]] = [
        ("Pipeline", notice.pipeline),
        ("Account", notice.account),
        ("Execution", notice.execution),
        ("Status", notice.status),
        ("Step", step),
        ("Time", notice.time.strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("Duration", format_duration(notice.duration) if notice.duration is not None else None),
        ("Error", error),
        ("Console", console_url(notice)),
    ]
    width = max(len(label) for label, _ in fields) + 1
    lines = [headline(notice)]
    lines += [f"{label + ':':<{width}} {value}" for label, value in fields if value]
    return "\n".join(lines)


def _error_line(notice: Notice) -> str | None:
    if notice.error is None and notice.cause is None:
        return None
    cause = (notice.cause or "").strip()
    if len(cause) > MAX_CAUSE_CHARS:
        cause = cause[: MAX_CAUSE_CHARS - 1] + "…"
    if notice.error and cause:
        return f"{notice.error}: {cause}"
    return notice.error or cause
