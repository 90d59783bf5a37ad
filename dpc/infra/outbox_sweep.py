"""The central outbox sweep (dpc.lambdas.outbox_sweeper) as infrastructure: the Lambda, the
schedule that runs it every few minutes, and the queue that keeps its failures.

Least privilege: Query on the outbox index only, UpdateItem on the state table (claim, then
clear), PutEvents on the central bus. A schedule invocation that fails is retried twice by
Lambda and then lands in ``dpc-outbox-sweeper-dlq``; an event the rule cannot hand to Lambda
lands there too. A lost sweep loses nothing (the next one reads the same index), but the
queue (and the alarms on it) says the sweep is not working.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
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
from dpc.lambdas.tables import OUTBOX_INDEX, TRIGGER_STATE


class OutboxSweep(Construct):
    """Every ``OUTBOX_SWEEP_MINUTES``: publish the triggers whose outbox entry outlived its
    lease, exactly as the trigger manager would have."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        central_bus: CentralBus,
        tables: CentralTables,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = dead_letter_queue(
            self, ids.OUTBOX_SWEEP_DLQ, queue_name=constants.OUTBOX_SWEEPER_DLQ_NAME
        )
        self.function = dpc_function(
            self,
            ids.OUTBOX_SWEEP_FUNCTION,
            handler="dpc.lambdas.outbox_sweeper.handler",
            description="dpc: publishes Pipeline Trigger events left unpublished in the outbox",
            environment={
                **tables.environment_for((TRIGGER_STATE,)),
                constants.ENV_EVENT_BUS_NAME: constants.CENTRAL_BUS_NAME,
            },
            timeout=Duration.seconds(60),
        )
        bound_async_retries(self.function, self.dead_letter_queue)
        state_table = tables.tables[TRIGGER_STATE.env_var]
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"],
                resources=[f"{state_table.table_arn}/index/{OUTBOX_INDEX}"],
            )
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:UpdateItem"], resources=[state_table.table_arn])
        )
        central_bus.bus.grant_put_events_to(self.function)
        self.rule = events.Rule(
            self,
            ids.OUTBOX_SWEEP_SCHEDULE,
            rule_name=constants.OUTBOX_SWEEP_RULE_NAME,
            description="dpc: runs the outbox sweep",
            schedule=events.Schedule.rate(Duration.minutes(constants.OUTBOX_SWEEP_MINUTES)),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=RULE_RETRY_ATTEMPTS,
                    max_event_age=RULE_MAX_EVENT_AGE,
                )
            ],
        )
