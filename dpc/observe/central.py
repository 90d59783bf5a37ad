"""The central account's records, read-only: one object for the CLI and the sandbox demo.

``Central.connect(AwsOptions(...))`` (the CLI) and ``Central.from_clients(dynamodb,
cloudformation)`` (the sandbox, with the central account's clients) find the tables of the
deployed central stack; ``Central.from_environment(client, env)`` takes the Lambda
environment that names them (``dpc.lambdas.tables.create_tables`` returns one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from dpc.errors import DpcError, UsageError
from dpc.lambdas.tables import DEPENDENCIES, RUN_LOG, TRIGGER_STATE
from dpc.observe.aws import AwsOptions, table_name
from dpc.observe.registry import pipeline_of, registrations
from dpc.observe.runlog import Run, RunFilter, list_runs, runs_of_pipelines
from dpc.observe.status import PipelineStatus, earliest_run_start, organization_status
from dpc.observe.why import evaluations
from dpc.spec.model import Pipeline
from dpc.triggers.events import Evaluation
from dpc.triggers.model import ParentRef
from dpc.triggers.periods import Period, parse_period

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_dynamodb import DynamoDBClient


@dataclass(frozen=True)
class Explanation:
    child: ParentRef
    evaluations: tuple[Evaluation, ...]
    registration: Pipeline | None
    period: str | None = None
    """Set when only the evaluations of one period were asked for (``dpc why --period``)."""
    status: PipelineStatus | None = None
    """With ``period``: the pipeline's state for it, judged at ``now``."""
    now: datetime | None = None


@dataclass(frozen=True)
class Central:
    dynamodb: DynamoDBClient
    run_log_table: str
    dependencies_table: str
    trigger_state_table: str

    @staticmethod
    def connect(aws: AwsOptions) -> Central:
        return Central.from_clients(aws.client("dynamodb"), aws.client("cloudformation"))

    @staticmethod
    def from_clients(dynamodb: DynamoDBClient, cloudformation: CloudFormationClient) -> Central:
        """Clients of the central account; table names from ``$DPC_*_TABLE`` or its stack."""
        return Central(
            dynamodb=dynamodb,
            run_log_table=table_name(RUN_LOG, cloudformation),
            dependencies_table=table_name(DEPENDENCIES, cloudformation),
            trigger_state_table=table_name(TRIGGER_STATE, cloudformation),
        )

    @staticmethod
    def from_environment(dynamodb: DynamoDBClient, environment: Mapping[str, str]) -> Central:
        return Central(
            dynamodb=dynamodb,
            run_log_table=environment[RUN_LOG.env_var],
            dependencies_table=environment[DEPENDENCIES.env_var],
            trigger_state_table=environment[TRIGGER_STATE.env_var],
        )

    def runs(
        self,
        now: datetime,
        since: datetime,
        name: str | None = None,
        account: str | None = None,
        status: str | None = None,
        limit: int = 50,
        period: str | None = None,
    ) -> list[Run]:
        """Newest first. With a name and an account, that pipeline's own partition is read;
        otherwise the by-day index, filtered."""
        run_filter = RunFilter(
            since=since, status=status, account=account, name=name, period=period
        )
        pipelines = [ParentRef(name, account)] if name and account else None
        return list_runs(self.dynamodb, self.run_log_table, run_filter, now, limit, pipelines)

    def pipelines(self) -> list[Pipeline]:
        """Every registered pipeline (one Query of the registry's by-kind index)."""
        return [pipeline_of(item) for item in registrations(self.dynamodb, self.dependencies_table)]

    def status(
        self,
        period: Period,
        now: datetime,
        account: str | None = None,
        pipelines: list[Pipeline] | None = None,
    ) -> list[PipelineStatus]:
        """Every registered pipeline (of ``account``) for ``period``: one Query of the
        registry (unless ``pipelines`` were read already), one of the run log per pipeline."""
        registered = self.pipelines() if pipelines is None else pipelines
        pipelines = [p for p in registered if account is None or p.account == account]
        runs = runs_of_pipelines(
            self.dynamodb,
            self.run_log_table,
            [p.ref for p in pipelines],
            RunFilter(since=earliest_run_start(period)),
        )
        return organization_status(pipelines, runs, period, now)

    def registered(self, name: str, account: str | None = None) -> list[Pipeline]:
        found = [
            pipeline_of(item)
            for item in registrations(self.dynamodb, self.dependencies_table, name)
        ]
        return [p for p in found if account is None or p.account == account]

    def why(
        self,
        name: str,
        account: str | None = None,
        limit: int = 10,
        period: str | None = None,
        now: datetime | None = None,
    ) -> Explanation:
        """The newest ``limit`` evaluations of one pipeline (with ``period``: those for that
        period, §5b P9, and, with ``now``, its state for the period); the account may be left
        out when only one registered pipeline has this name."""
        registered = self.registered(name, account)
        if account is None:
            if not registered:
                raise DpcError(
                    f"no registered pipeline is named '{name}': check the name, or pass --account"
                )
            if len(registered) > 1:
                accounts = ", ".join(sorted(p.account or "" for p in registered))
                raise UsageError(
                    f"'{name}' is registered in several accounts ({accounts}): pass --account"
                )
            account = registered[0].account
        assert account is not None
        child = ParentRef(name, account)
        found = evaluations(self.dynamodb, self.trigger_state_table, child, limit, period)
        if not found and not registered:
            raise DpcError(f"{child} is not registered and has no recorded evaluation")
        registration = registered[0] if registered else None
        status = None
        if period is not None and registration is not None and now is not None:
            status = self._period_status(registration, parse_period(period), now)
        return Explanation(child, tuple(found), registration, period, status, now)

    def _period_status(self, pipeline: Pipeline, period: Period, now: datetime) -> PipelineStatus:
        """The pipeline's state for ``period`` as `dpc status` judges it, from it and its
        ancestors only (their states and deadlines are what it waits on and inherits)."""
        lineage = {pipeline.ref: pipeline}
        queue = [pipeline]
        while queue:
            condition = queue.pop().trigger.executions
            for parent in condition.parents if condition is not None else ():
                if parent not in lineage:
                    for found in self.registered(parent.name, parent.account):
                        lineage[found.ref] = found
                        queue.append(found)
        statuses = self.status(period, now, pipelines=list(lineage.values()))
        return next(s for s in statuses if s.pipeline == pipeline.ref)
