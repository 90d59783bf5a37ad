"""The central late-alert sweep (dpc.lambdas.late_alerts) as infrastructure: the Lambda, the
schedule that runs it every ``LATE_SWEEP_MINUTES``, and the queue that keeps its failures.

Least privilege, table by table: the registry is only read (its partition Query and the
registration GetItem); the run log only through its ``by-start`` index; the trigger-state
table holds the due index and the alert items (get, put, update, delete, one partition
Query, and the transactions made of those); the Slack tables as the Slack poster uses
them, and the token secret read; PutEvents on the central bus only. A failed run is retried
twice by Lambda and then lands in ``dpc-late-alert-sweeper-dlq``; an event the schedule rule
cannot hand to Lambda lands there too. Nothing is lost with a lost run (the next one reads
the same due items from the same cursor), but the alarms on the queue say alerts are late.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from dpc import constants
from dpc.infra import ids
from dpc.infra.alarms import (
    RULE_MAX_EVENT_AGE,
    RULE_RETRY_ATTEMPTS,
    bound_async_retries,
    dead_letter_queue,
)
from dpc.infra.central import CentralBus, CentralTables
from dpc.infra.lambda_code import dpc_function
from dpc.lambdas.tables import (
    DEPENDENCIES,
    RUN_LOG,
    SLACK_CHANNELS,
    SLACK_TABLES,
    SLACK_THREADS,
    TRIGGER_STATE,
)


class LateAlertSweep(Construct):
    """Every ``LATE_SWEEP_MINUTES``: raise the late alerts that came due, tell recoveries."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        central_bus: CentralBus,
        tables: CentralTables,
        slack_token: secretsmanager.ISecret,
        slack_environment: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = dead_letter_queue(
            self, ids.LATE_ALERT_SWEEP_DLQ, queue_name=constants.LATE_SWEEPER_DLQ_NAME
        )
        self.function = dpc_function(
            self,
            ids.LATE_ALERT_SWEEP_FUNCTION,
            handler="dpc.lambdas.late_alerts.handler",
            description="dpc: late alerts once a pipeline's deadline passes, and recoveries",
            environment={
                **tables.environment_for((DEPENDENCIES, RUN_LOG, TRIGGER_STATE, *SLACK_TABLES)),
                constants.ENV_EVENT_BUS_NAME: constants.CENTRAL_BUS_NAME,
                constants.ENV_SLACK_TOKEN_SECRET: slack_token.secret_arn,
                **slack_environment,
            },
            timeout=Duration.seconds(120),
        )
        bound_async_retries(self.function, self.dead_letter_queue)
        table = tables.tables
        grants: list[tuple[list[str], list[str]]] = [
            (
                ["dynamodb:Query", "dynamodb:GetItem"],
                [table[DEPENDENCIES.env_var].table_arn],
            ),
            (["dynamodb:Query"], [f"{table[RUN_LOG.env_var].table_arn}/index/by-start"]),
            (
                [
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:Query",
                    "dynamodb:ConditionCheckItem",
                ],
                [table[TRIGGER_STATE.env_var].table_arn],
            ),
            (
                ["dynamodb:GetItem", "dynamodb:BatchGetItem"],
                [table[SLACK_CHANNELS.env_var].table_arn],
            ),
            (
                [
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                ],
                [table[SLACK_THREADS.env_var].table_arn],
            ),
        ]
        for actions, resources in grants:
            self.function.add_to_role_policy(
                iam.PolicyStatement(actions=actions, resources=resources)
            )
        slack_token.grant_read(self.function)
        central_bus.bus.grant_put_events_to(self.function)
        self.rule = events.Rule(
            self,
            ids.LATE_ALERT_SWEEP_SCHEDULE,
            rule_name=constants.LATE_SWEEP_RULE_NAME,
            description="dpc: runs the late-alert sweep",
            schedule=events.Schedule.rate(Duration.minutes(constants.LATE_SWEEP_MINUTES)),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=RULE_RETRY_ATTEMPTS,
                    max_event_age=RULE_MAX_EVENT_AGE,
                )
            ],
        )
