"""The user account's status sweeper (dpc.lambdas.status_sweeper) and its schedule.

A Lambda run every 15 minutes by a scheduled rule re-sends recent status changes of the
account's dpc executions to the central bus, so a Step Functions event that never arrived
still reaches the trigger manager. Nothing is silently dropped on the way: the rule retries
delivery for a day and parks what it cannot deliver in ``dpc-status-sweeper-dlq``, and the
function's own failures (two async retries by Lambda) land in the same queue, where
``dpc doctor`` shows them and ``dpc redrive`` replays them (a replayed sweep sweeps its
original window: the window is taken from the scheduled event's time).
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
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
from dpc.infra.lambda_code import dpc_function
from dpc.infra.nag import suppress
from dpc.lambdas import status_sweeper

SWEEPER_TIMEOUT = Duration.minutes(5)
"""About one ListExecutions call per pipeline: 1,000 pipelines take well under a minute."""


class StatusSweeper(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, central_account: str) -> None:
        super().__init__(scope, construct_id)
        central_bus_arn = (
            f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{central_account}:event-bus/"
            f"{constants.CENTRAL_BUS_NAME}"
        )
        self.dead_letter_queue = dead_letter_queue(
            self, "DeadLetterQueue", queue_name=ids.STATUS_SWEEPER_DLQ_NAME
        )
        self.function = dpc_function(
            self,
            "Function",
            handler="dpc.lambdas.status_sweeper.handler",
            description="dpc: re-sends recent status changes of dpc executions to the central bus",
            environment={constants.ENV_CENTRAL_BUS_ARN: central_bus_arn},
            timeout=SWEEPER_TIMEOUT,
        )
        bound_async_retries(self.function, self.dead_letter_queue)
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                sid="PutOnCentralBus", actions=["events:PutEvents"], resources=[central_bus_arn]
            )
        )
        state_machines = (
            f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}:stateMachine:"
            f"{constants.STATE_MACHINE_PREFIX}*"
        )
        executions = (
            f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}:execution:"
            f"{constants.STATE_MACHINE_PREFIX}*:*"
        )
        # A policy of its own, so its wildcards are acknowledged with their own reason.
        read_executions = iam.Policy(
            self,
            "ReadExecutions",
            statements=[
                iam.PolicyStatement(
                    sid="ListStateMachines", actions=["states:ListStateMachines"], resources=["*"]
                ),
                iam.PolicyStatement(
                    sid="ListExecutions",
                    actions=["states:ListExecutions"],
                    resources=[state_machines],
                ),
                iam.PolicyStatement(
                    sid="DescribeExecutions",
                    actions=["states:DescribeExecution"],
                    resources=[executions],
                ),
            ],
        )
        assert self.function.role is not None
        read_executions.attach_to_role(self.function.role)
        suppress(
            read_executions,
            "AwsSolutions-IAM5",
            "ListStateMachines supports no resource-level permission; ListExecutions and "
            "DescribeExecution are limited to the account's dpc state machines (names start "
            "with dpc-) and their executions, which are created after this stack.",
            findings=[
                "Resource::*",
                "Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:"
                f"stateMachine:{constants.STATE_MACHINE_PREFIX}*",
                "Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:"
                f"execution:{constants.STATE_MACHINE_PREFIX}*:*",
            ],
        )
        self.rule = events.Rule(
            self,
            "Schedule",
            rule_name=ids.STATUS_SWEEP_RULE_NAME,
            description="Every 15 minutes: re-send recent dpc status changes (status sweeper)",
            schedule=events.Schedule.rate(
                Duration.minutes(int(status_sweeper.SWEEP_RATE.total_seconds() // 60))
            ),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=RULE_RETRY_ATTEMPTS,
                    max_event_age=RULE_MAX_EVENT_AGE,
                )
            ],
        )
