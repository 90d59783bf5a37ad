"""The central late-alert sweep: one alert per (pipeline, period) whose data is not there by
its deadline, to its owners and to the owners of every correlated child it blocks.

Why a sweep over a due index. A pipeline's deadline (pipeline.yaml ``expect.by``) is a moment
known in advance; what must not happen is reading every pipeline's run log every few minutes
to find the few that are late. So every watched (pipeline, period) is ONE item in the
trigger-state table, keyed by the hour its deadline falls in::

    pk "DUE#2026-11-28T06", sk "<due ISO>#<name>@<account>#<period>"   (expires_at: TTL)

written when the period becomes known: at registration, for the first period due after it
(``watch``, called by the dependencies publisher), then by the sweep itself, which writes the
next period's item when it takes one. Every ``LATE_SWEEP_MINUTES`` a scheduled rule runs the
sweep, which Queries the hour buckets since its cursor (``DUE#CURSOR``) for items due by now:
only what is due is read. EventBridge Scheduler one-time schedules (one per pipeline and
period) would do the same with a schedule to create, update and delete per deploy and per
period, a quota of schedules per account, and a target per schedule to keep least-privileged;
one rule and one Query per hour bucket is less to operate and costs the same or less.

Per due item the sweep reads the registration with its children (one Query of the registry
partition), the pipeline's runs since a week before the period (one Query of the run log's
by-start index), and writes the next item and deletes this one. The pipeline is late when its
newest run for the period did not SUCCEED. The alert is then recorded with a conditional
write (pk "LATE#<name>@<account>", sk "<period>", state PENDING → SENT), so whatever sweeps,
retries or re-registrations meet the same (pipeline, period), it is raised once; an open
marker (pk "LATE#OPEN") lists it until the period succeeds.

Inferred deadlines (issue 14 item 2). A correlated child that sets no ``expect`` is due when
its latest parent is, plus its own typical run time (the median of its successful runs since a
week before the period) — the deadline `dpc status` shows as "(inferred)". Its due item,
marked ``inferred``, is written when a parent's item is taken (the parent's deadline plus the
child's typical run time: the earliest it can be due); when it comes due the deadline is
inferred again from all its parents (a later parent moves it on), and the child's own take
watches its children in turn, down the chain. A child with no success yet has no typical run
time, so no inferred deadline: a guess from no history would call every first run late.

Who is told, and how. The pipeline itself, and every correlated child (``correlate:
period``) waiting for it, transitively — the teams whose data it holds up. Slack: the Slack
poster's own code (channels and their owners from the Slack-channels table, escaping, one
thread per key in the Slack-threads table), posting into a thread of its own per (pipeline,
period) in every channel of those pipelines. E-mail, OpsGenie, webhooks: their SNS topics
live in the user accounts, so the sweep puts one ``Pipeline Late`` event per pipeline told on
the central bus; the route rule of that pipeline's account carries it to its pipeline bus,
where the pipeline stack's rule hands it to its execution tracker, which publishes it to the
pipeline's topic — the same path and the same trust as trigger events (§6).

Recovered. The next sweep after the period succeeds posts "recovered" into the same Slack
thread (same thread key) and sends ``Pipeline Recovered`` the same way. The sweep, not the
trigger manager, sends it: the trigger manager is the hot path of every status change and
would need the Slack token and Slack's latency for a message that can wait a few minutes; the
sweep reads the (few) open alerts anyway, one run-log Query each.

The text is the one `dpc status` prints for the pipeline and period (dpc.triggers.lateness),
in the execution tracker's labelled layout (dpc.lambdas.notifications).

Cost (sweep every 5 minutes = 288 runs a day). Fixed, whatever the organization's size:
cursor GetItem + PutItem and about two bucket Queries and one open-alert Query per run —
about 1,400 requests a day. Per watched pipeline and daily period: about 5 requests (its
share of a bucket Query page, the registry Query, the run-log Query, the next item's
PutItem, this one's DeleteItem): ~5,000 a day at 1,000 pipelines, ~50,000 at 10,000 (well
under $1 a month on demand). Each correlated child adds a registry GetItem per period of its
parent, and one without a deadline a run-log Query and its own (inferred) due item — about
the cost of a watched pipeline, plus a GetItem and a Query per parent when it comes due.
Each late alert adds a few requests per child it blocks, and one run-log Query per sweep
while it stays open (at most ``OPEN_FOR`` days). Reading every
pipeline's run log each sweep instead would take 288,000 Queries a day at 1,000 pipelines,
2.9 million at 10,000. ``bench/late_alerts.py`` prints the calls of one sweep.

Failures. A Slack channel that refuses a message is logged (as the Slack poster does); a
failed PutEvents, or any other error, leaves the item PENDING and its due item in place and
makes the run raise: Lambda retries it twice, then the on-failure queue
``dpc-late-alert-sweeper-dlq`` (alarmed) keeps it; the next scheduled sweep retries anyway.
A PENDING alert is taken over only after ``CLAIM_LEASE`` (a sweep that may still be sending
it), so a crash between sending and recording SENT is the only way a message repeats.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from dpc import constants
from dpc.lambdas.apigw import ApiError
from dpc.lambdas.clients import client as build_client
from dpc.lambdas.due_index import due_bucket, due_item
from dpc.lambdas.notifications import FAILURE_STATUSES, SNS_SUBJECT_MAX_CHARS, format_duration
from dpc.lambdas.registry import DynamoDbRegistry, Registration
from dpc.lambdas.run_log import LoggedRun, runs_since
from dpc.lambdas.slack_poster import Settings as SlackSettings
from dpc.lambdas.slack_poster import SlackPoster, SlackWebApi, TokenCache, escape
from dpc.lambdas.store_dynamodb import parse_ref, ref_key
from dpc.triggers.lateness import late_text, periods_within, progress_text, typical_duration
from dpc.triggers.model import ParentRef
from dpc.triggers.periods import Period, PeriodSpec, parse_period, period_containing
from dpc.triggers.timefmt import format_time, parse_time

logger = Logger(service="dpc-late-alert-sweeper")

CURSOR_KEY = {"pk": {"S": "DUE#CURSOR"}, "sk": {"S": "#CURSOR"}}
LATE_PREFIX = "LATE#"
OPEN_PARTITION = "LATE#OPEN"
ALERT_RETENTION = timedelta(days=400)
"""An alert item outlives any redelivery, re-registration or replay that could raise it again."""
OPEN_FOR = timedelta(days=7)
"""How long a late period is watched for its recovery (its open marker's TTL)."""
CLAIM_LEASE = timedelta(minutes=5)
"""A PENDING alert younger than this belongs to a sweep that may still be sending it."""
RUNS_BEFORE_PERIOD = timedelta(days=7)
"""A run processing a period starts at the earliest a week before it (as `dpc status`)."""
MAX_DUE_PER_SWEEP = 500
"""Bounded work per run (each item is a few requests): the rest waits for the next sweep."""
MAX_BLOCKED = 200
"""Correlated descendants told per alert: a bound on fan-out, far above real chains."""
FIRST_SWEEP_LOOKBACK = timedelta(hours=1)


@dataclass(frozen=True)
class Lateness:
    """What the alert says: the pipeline, its period and deadline, its newest run for it."""

    pipeline: ParentRef
    period: str
    due: datetime
    progress: str
    latest: LoggedRun | None
    blocks: tuple[ParentRef, ...]
    inferred: bool = False
    """The deadline is inferred from its parents' (it sets no ``expect`` of its own)."""

    def text(self) -> str:
        return _render(
            f"[dpc] {self.pipeline.name}: LATE for {self.period}",
            [
                ("Pipeline", self.pipeline.name),
                ("Account", self.pipeline.account),
                ("Period", self.period),
                ("Status", late_text(self.due, self.progress, self.inferred)),
                ("Execution", self.latest.execution if self.latest else None),
                ("Blocks", ", ".join(str(b) for b in self.blocks) or None),
                ("Why", f"dpc why {self.pipeline.name} --period {self.period}"),
            ],
        )


def recovered_text(pipeline: ParentRef, period: str, due: datetime, run: LoggedRun) -> str:
    finished = run.stopped_at or run.started_at
    return _render(
        f"[dpc] {pipeline.name}: RECOVERED for {period}",
        [
            ("Pipeline", pipeline.name),
            ("Account", pipeline.account),
            ("Period", period),
            ("Status", progress_text(run.status, run.started_at, run.stopped_at)),
            ("Late by", format_duration(finished - due)),
            ("Execution", run.execution),
        ],
    )


def _render(headline: str, fields: Sequence[tuple[str, str | None]]) -> str:
    width = max(len(label) for label, _ in fields) + 1
    return "\n".join(
        [headline, *(f"{label + ':':<{width}} {value}" for label, value in fields if value)]
    )


def subject_of(text: str) -> str:
    headline = text.splitlines()[0].encode("ascii", "replace").decode("ascii")
    return headline[:SNS_SUBJECT_MAX_CHARS]


@dataclass(frozen=True)
class Settings:
    dependencies_table: str
    run_log_table: str
    trigger_state_table: str
    event_bus_name: str

    @staticmethod
    def from_env(environ: Mapping[str, str] = os.environ) -> Settings:
        return Settings(
            environ[constants.ENV_DEPENDENCIES_TABLE],
            environ[constants.ENV_RUN_LOG_TABLE],
            environ[constants.ENV_TRIGGER_STATE_TABLE],
            environ[constants.ENV_EVENT_BUS_NAME],
        )


@dataclass(frozen=True)
class SweepReport:
    late: tuple[str, ...] = ()
    """"name@account period" of every alert this run raised."""
    recovered: tuple[str, ...] = ()
    checked: int = 0
    """Due items taken."""
    failures: tuple[str, ...] = field(default=())


class LateAlertSweeper:
    def __init__(
        self,
        settings: Settings,
        slack: SlackPoster | None,
        *,
        dynamodb: Any = None,
        events: Any = None,
        max_due: int = MAX_DUE_PER_SWEEP,
    ) -> None:
        self.settings = settings
        self.dynamodb = dynamodb or build_client("dynamodb")
        self.events = events or build_client("events")
        self.registry = DynamoDbRegistry(settings.dependencies_table, self.dynamodb)
        self.slack = slack
        self.table = settings.trigger_state_table
        self.max_due = max_due

    # -- the sweep -----------------------------------------------------------------------
    def sweep(self, now: datetime) -> SweepReport:
        late: list[str] = []
        failures: list[str] = []
        checked = 0
        complete = True
        for item in self._due(now):
            if checked >= self.max_due:
                complete = False
                break
            checked += 1
            try:
                raised = self._take(item, now)
            except HeldElsewhere:
                complete = False  # keep the cursor here: this bucket is read again
                continue
            except Exception as error:  # one item's failure must not hide the others'
                logger.exception("due item failed", extra={"item": item["sk"]["S"]})
                failures.append(f"{item['sk']['S']}: {error}")
                continue
            if raised is not None:
                late.append(raised)
        recovered = []
        for marker in self._open():
            try:
                done = self._recover(marker, now)
            except Exception as error:
                logger.exception("recovery check failed", extra={"item": marker["sk"]["S"]})
                failures.append(f"{marker['sk']['S']}: {error}")
                continue
            if done is not None:
                recovered.append(done)
        if complete and not failures:
            self.dynamodb.put_item(
                TableName=self.table,
                Item={**CURSOR_KEY, "swept_until": {"S": format_time(now)}},
            )
        report = SweepReport(tuple(late), tuple(recovered), checked, tuple(failures))
        if failures:
            raise LateSweepError(report)
        return report

    def _due(self, now: datetime) -> Iterator[dict[str, Any]]:
        """Due items of every hour bucket from the cursor's to now's, deadline ≤ now."""
        cursor = self.dynamodb.get_item(
            TableName=self.table, Key=CURSOR_KEY, ConsistentRead=True
        ).get("Item")
        since = parse_time(cursor["swept_until"]["S"]) if cursor else now - FIRST_SWEEP_LOOKBACK
        hour = since.replace(minute=0, second=0, microsecond=0)
        while hour <= now:
            request: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :pk AND sk < :until",
                "ExpressionAttributeValues": {
                    ":pk": {"S": due_bucket(hour)},
                    # "<due ISO>#…" sorts after "<due ISO>" and before "<due ISO>$".
                    ":until": {"S": format_time(now) + "$"},
                },
            }
            while True:
                page = self.dynamodb.query(**request)
                yield from page["Items"]
                if "LastEvaluatedKey" not in page:
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            hour += timedelta(hours=1)

    def _take(self, item: Mapping[str, Any], now: datetime) -> str | None:
        ref = parse_ref(item["pipeline"]["S"])
        inferred = item.get("inferred", {}).get("BOOL", False)
        registration, children = self.registry.lookup(ref)
        spec = (registration.period if registration else None) or PeriodSpec()
        period = parse_period(item["period"]["S"], spec.unit)
        due = self._deadline(registration, period, inferred)
        if registration is None or due is None:
            self._delete(item)  # deregistered, or no deadline (of this kind) any more
            return None
        if due > now:  # the deadline moved later since this item was written
            self._put_due(ref, period, due, now, inferred)
            self._delete(item)
            return None
        if registration.expect is not None:
            following = period.next()
            self._put_due(ref, following, registration.expect.due(following, spec), now)
        correlated = [c for c, condition in children if condition.correlated]
        self._watch_children(ref, correlated, period, due, now)
        latest = self._newest_run(ref, period)
        raised = None
        if latest is None or latest.status != "SUCCEEDED":
            blocks = self._blocked(ref, correlated)
            running = latest is not None and latest.status == "RUNNING"
            waiting_on = () if running else self._waiting_on(registration, period, now)
            lateness = Lateness(
                ref,
                str(period),
                due,
                progress_text(
                    latest.status if latest else None,
                    latest.started_at if latest else None,
                    latest.stopped_at if latest else None,
                    waiting_on,
                    latest.failed_step if latest else None,
                    latest.error if latest else None,
                ),
                latest,
                blocks,
                inferred,
            )
            if self._raise(lateness, now):
                raised = f"{ref} {period}"
        self._delete(item)
        return raised

    def _put_due(
        self, ref: ParentRef, period: Period, due: datetime, now: datetime, inferred: bool = False
    ) -> None:
        self.dynamodb.put_item(
            TableName=self.table, Item=due_item(ref, period, due, now, inferred=inferred)
        )

    # -- deadlines, own and inferred -----------------------------------------------------
    def _deadline(
        self, registration: Registration | None, period: Period, inferred: bool
    ) -> datetime | None:
        """An own deadline from ``expect``; an inferred one only while the pipeline sets none
        (once it does, its own items watch it)."""
        if registration is None:
            return None
        if not inferred:
            spec = registration.period or PeriodSpec()
            return registration.expect.due(period, spec) if registration.expect else None
        if registration.expect is not None:
            return None
        return self._inferred_due(registration, period, frozenset())

    def _inferred_due(
        self, registration: Registration, period: Period, seen: frozenset[ParentRef]
    ) -> datetime | None:
        """As `dpc status` infers it (dpc.observe.status): the latest parent's deadline for the
        period plus the pipeline's typical run time; None without either."""
        condition = registration.condition
        seen = seen | {registration.pipeline}  # a hand-made cycle ends here
        dues = []
        for parent in condition.parents if condition is not None else ():
            found = self.registry.get(parent) if parent not in seen else None
            if found is not None and (due := self._due_of(found, period, seen)) is not None:
                dues.append(due)
        typical = self._typical(registration.pipeline, period)
        return max(dues) + typical if dues and typical is not None else None

    def _due_of(
        self, registration: Registration, period: Period, seen: frozenset[ParentRef]
    ) -> datetime | None:
        """A pipeline's deadline for its periods in ``period``: its own, else inferred."""
        if registration.expect is None:
            return self._inferred_due(registration, period, seen)
        spec = registration.period or PeriodSpec()
        return max(registration.expect.due(p, spec) for p in periods_within(spec.unit, period))

    def _watch_children(
        self,
        ref: ParentRef,
        correlated: list[ParentRef],
        period: Period,
        due: datetime,
        now: datetime,
    ) -> None:
        """Watch each correlated child that sets no deadline, for its periods in this one: due,
        at the earliest, when this pipeline is plus the child's typical run time. When its item
        comes due, the deadline is inferred again from all its parents (a later parent moves it
        on), and the child's own take watches its children in turn, down the chain."""
        for child in correlated:
            found = self.registry.get(child) if child != ref else None
            if found is None or found.expect is not None:
                continue
            typical = self._typical(child, period)
            if typical is None:  # no success yet: nothing to infer from
                continue
            unit = (found.period or PeriodSpec()).unit
            for child_period in periods_within(unit, period):
                self._put_due(child, child_period, due + typical, now, inferred=True)

    def _delete(self, item: Mapping[str, Any]) -> None:
        self.dynamodb.delete_item(TableName=self.table, Key={"pk": item["pk"], "sk": item["sk"]})

    # -- reading the run log and the registry --------------------------------------------
    def _runs(self, ref: ParentRef, period: Period) -> Iterator[LoggedRun]:
        """Newest first, from the earliest a run of ``period`` starts (as `dpc status`)."""
        since = period.start - RUNS_BEFORE_PERIOD
        return runs_since(self.dynamodb, self.settings.run_log_table, ref, since)

    def _newest_run(self, ref: ParentRef, period: Period) -> LoggedRun | None:
        return next((run for run in self._runs(ref, period) if run.period == str(period)), None)

    def _typical(self, ref: ParentRef, period: Period) -> timedelta | None:
        return typical_duration(
            [
                run.stopped_at - run.started_at
                for run in self._runs(ref, period)
                if run.status == "SUCCEEDED" and run.stopped_at is not None
            ]
        )

    def _waiting_on(
        self, registration: Registration, period: Period, now: datetime
    ) -> tuple[tuple[ParentRef, str], ...]:
        """The parents not done for the period, in `dpc status`'s words: failed, late (past
        their own or inferred deadline), running or waiting."""
        condition = registration.condition
        waiting = []
        for parent in condition.parents if condition is not None else ():
            found = self.registry.get(parent)
            unit = (found.period or PeriodSpec()).unit if found else "day"
            run = self._newest_run(parent, period_containing(unit, period.start))
            if run is not None and run.status == "SUCCEEDED":
                continue
            if run is not None and run.status in FAILURE_STATUSES:
                waiting.append((parent, "failed"))
                continue
            due = self._due_of(found, period, frozenset()) if found else None
            state = "running" if run is not None else "waiting"
            waiting.append((parent, "late" if due is not None and now > due else state))
        return tuple(waiting)

    def _blocked(self, ref: ParentRef, correlated: list[ParentRef]) -> tuple[ParentRef, ...]:
        """Correlated descendants of ``ref``, breadth first, each once."""
        found: dict[ParentRef, None] = {}
        queue = list(correlated)
        while queue and len(found) < MAX_BLOCKED:
            child = queue.pop(0)
            if child in found or child == ref:
                continue
            found[child] = None
            _, grandchildren = self.registry.lookup(child)
            queue += [c for c, condition in grandchildren if condition.correlated]
        return tuple(found)

    # -- raising and recovering ----------------------------------------------------------
    def _raise(self, lateness: Lateness, now: datetime) -> bool:
        """Record the alert once, then tell everyone; False when it was raised already
        (``HeldElsewhere`` when a sweep claimed it within the lease and may still send it)."""
        key = _alert_key(lateness.pipeline, lateness.period)
        recipients = (lateness.pipeline, *lateness.blocks)
        text = lateness.text()
        if not self._claim_alert(key, lateness, recipients, text, now):
            return False
        self._tell(key, recipients, text, constants.LATE_DETAIL_TYPE, lateness)
        self.dynamodb.update_item(
            TableName=self.table,
            Key=key,
            UpdateExpression="SET #state = :sent",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":sent": {"S": "SENT"}},
        )
        logger.info("late alert raised", extra={"pipeline": str(lateness.pipeline)})
        return True

    def _claim_alert(
        self,
        key: dict[str, Any],
        lateness: Lateness,
        recipients: Sequence[ParentRef],
        text: str,
        now: datetime,
    ) -> bool:
        item = {
            **key,
            "state": {"S": "PENDING"},
            "claimed_at": {"S": format_time(now)},
            "due": {"S": format_time(lateness.due)},
            "text": {"S": text},
            "recipients": {"L": [{"S": ref_key(r)} for r in recipients]},
            "expires_at": {"N": str(int((now + ALERT_RETENTION).timestamp()))},
        }
        marker = {
            "pk": {"S": OPEN_PARTITION},
            "sk": {"S": f"{ref_key(lateness.pipeline)}#{lateness.period}"},
            "expires_at": {"N": str(int((now + OPEN_FOR).timestamp()))},
        }
        try:
            self.dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": item,
                            "ConditionExpression": "attribute_not_exists(pk) OR "
                            "(#state = :pending AND claimed_at < :stale)",
                            "ExpressionAttributeNames": {"#state": "state"},
                            "ExpressionAttributeValues": {
                                ":pending": {"S": "PENDING"},
                                ":stale": {"S": format_time(now - CLAIM_LEASE)},
                            },
                        }
                    },
                    {"Put": {"TableName": self.table, "Item": marker}},
                ]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            found = self.dynamodb.get_item(TableName=self.table, Key=key, ConsistentRead=True)
            if found.get("Item", {}).get("state", {}).get("S") == "PENDING":
                raise HeldElsewhere(str(lateness.pipeline)) from None
            return False
        return True

    def _open(self) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": OPEN_PARTITION}},
        }
        while True:
            page = self.dynamodb.query(**request)
            yield from page["Items"]
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _recover(self, marker: Mapping[str, Any], now: datetime) -> str | None:
        """Tell the period succeeded, into the late alert's own thread, once."""
        name_account, _, period_text = marker["sk"]["S"].rpartition("#")
        ref = parse_ref(name_account)
        registration = self.registry.get(ref)
        unit = (registration.period or PeriodSpec()).unit if registration else None
        period = parse_period(period_text, unit)
        run = self._newest_run(ref, period)
        if run is None or run.status != "SUCCEEDED":
            return None
        key = _alert_key(ref, period_text)
        try:
            alert = self.dynamodb.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET #state = :recovering, claimed_at = :now",
                ConditionExpression="#state = :sent OR "
                "(#state = :recovering AND claimed_at < :stale)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":sent": {"S": "SENT"},
                    ":recovering": {"S": "RECOVERING"},
                    ":now": {"S": format_time(now)},
                    ":stale": {"S": format_time(now - CLAIM_LEASE)},
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return None  # still being raised, or recovered by another sweep
        recipients = tuple(parse_ref(r["S"]) for r in alert["recipients"]["L"])
        due = parse_time(alert["due"]["S"])
        text = recovered_text(ref, period_text, due, run)
        self._tell(key, recipients, text, constants.RECOVERED_DETAIL_TYPE, None, period_text)
        self.dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": key,
                        "UpdateExpression": "SET #state = :recovered",
                        "ExpressionAttributeNames": {"#state": "state"},
                        "ExpressionAttributeValues": {":recovered": {"S": "RECOVERED"}},
                    }
                },
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": {"pk": marker["pk"], "sk": marker["sk"]},
                    }
                },
            ]
        )
        logger.info("recovered", extra={"pipeline": str(ref), "period": period_text})
        return f"{ref} {period_text}"

    def _tell(
        self,
        key: Mapping[str, Any],
        recipients: Sequence[ParentRef],
        text: str,
        detail_type: str,
        lateness: Lateness | None,
        period: str | None = None,
    ) -> None:
        """One event per pipeline told (its topic), then Slack in the alert's own thread: a
        refused PutEvents raises before anything is posted, so its retry posts once."""
        late_pipeline = parse_ref(key["pk"]["S"].removeprefix(LATE_PREFIX))
        late_period = key["sk"]["S"]
        entries = [
            {
                "Source": constants.LATE_ALERT_SOURCE,
                "DetailType": detail_type,
                "EventBusName": self.settings.event_bus_name,
                "Detail": json.dumps(
                    {
                        "pipeline": ref.name,
                        "account": ref.account,
                        "subject": subject_of(text),
                        "text": text,
                        "late": {
                            "pipeline": late_pipeline.name,
                            "account": late_pipeline.account,
                            "period": late_period,
                        },
                    }
                ),
            }
            for ref in recipients
        ]
        for start in range(0, len(entries), 10):
            answer = self.events.put_events(Entries=entries[start : start + 10])
            if answer.get("FailedEntryCount"):
                raise LateDeliveryError(
                    f"{answer['FailedEntryCount']} {detail_type} event(s) not accepted: "
                    + json.dumps([e for e in answer["Entries"] if "ErrorCode" in e])[:500]
                )
        if self.slack is not None:
            channels: dict[str, None] = {}
            for ref in recipients:
                try:
                    channels.update(dict.fromkeys(self.slack.channels(ref.name, ref.account)))
                except ApiError as error:  # no channels registered, or none it may use
                    logger.info("no Slack channel", extra={"pipeline": str(ref), "why": str(error)})
            if channels:
                thread = f"late:{ref_key(late_pipeline)}:{late_period}"
                self.slack.post(thread, list(channels), escape(text))


def _alert_key(ref: ParentRef, period: str) -> dict[str, Any]:
    return {"pk": {"S": LATE_PREFIX + ref_key(ref)}, "sk": {"S": period}}


class HeldElsewhere(Exception):
    """Another sweep claimed this alert within ``CLAIM_LEASE``: its due item is kept, to be
    looked at again after the lease."""


class LateDeliveryError(Exception):
    """EventBridge refused some of the events: the alert stays PENDING, to be sent again."""


class LateSweepError(Exception):
    """Some due items or recoveries failed; the run raises so Lambda retries it (then DLQ)."""

    def __init__(self, report: SweepReport) -> None:
        super().__init__("; ".join(report.failures)[:2000])
        self.report = report


@cache
def _sweeper() -> LateAlertSweeper:
    """Composition root: the Slack poster's own pieces over the central Slack tables."""
    slack_settings = SlackSettings.from_env(os.environ)
    token = TokenCache(build_client("secretsmanager"), slack_settings.token_secret_id)
    dynamodb = build_client("dynamodb")
    slack = SlackPoster(
        settings=slack_settings,
        dynamodb=dynamodb,
        slack=SlackWebApi(slack_settings.slack_base_url, token.get),
        token=token,
    )
    return LateAlertSweeper(Settings.from_env(), slack, dynamodb=dynamodb)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = _sweeper().sweep(datetime.now(UTC))
    logger.info(
        "swept",
        extra={
            "late": list(report.late),
            "recovered": list(report.recovered),
            "checked": report.checked,
        },
    )
    return {
        "late": list(report.late),
        "recovered": list(report.recovered),
        "checked": report.checked,
    }
