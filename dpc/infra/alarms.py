"""No silent drop (issue 11): dead-letter queues, bounded async retries and operator alarms.

Every dpc stack builds its dead-letter queues with ``dead_letter_queue`` and hands every
queue, function and rule to one ``OperatorAlarms``, whose alarms publish to the account's
``dpc-operator`` topic (``OperatorTopic`` in the central and user-account stacks; pipeline
stacks import the user account's through an export). Names follow ``dpc.naming`` so that
`dpc doctor` / `dpc redrive` find them.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as lambda_destinations
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from dpc import naming
from dpc.infra.nag import suppress

ASYNC_RETRY_ATTEMPTS = 2
ASYNC_MAX_EVENT_AGE = Duration.hours(6)
RULE_RETRY_ATTEMPTS = 185
RULE_MAX_EVENT_AGE = Duration.hours(24)
ALARM_PERIOD = Duration.minutes(5)


def dead_letter_queue(scope: Construct, construct_id: str, *, queue_name: str) -> sqs.Queue:
    """A retained, encrypted, TLS-only queue kept 14 days: where an event or an invocation
    that exhausted its retries waits for `dpc redrive`."""
    assert queue_name.startswith(naming.DLQ_PREFIX) and queue_name.endswith(naming.DLQ_SUFFIX)
    queue = sqs.Queue(
        scope,
        construct_id,
        queue_name=queue_name,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
        removal_policy=RemovalPolicy.RETAIN,
    )
    suppress(
        queue,
        "AwsSolutions-SQS3",
        "This queue is itself a dead-letter queue (of a rule target or a Lambda's "
        "asynchronous invocations).",
    )
    return queue


def bound_async_retries(function: lambda_.Function, queue: sqs.IQueue) -> None:
    """Two retries, then the event goes to ``queue`` instead of being dropped."""
    function.configure_async_invoke(
        retry_attempts=ASYNC_RETRY_ATTEMPTS,
        max_event_age=ASYNC_MAX_EVENT_AGE,
        on_failure=lambda_destinations.SqsDestination(queue),
    )


class OperatorTopic(Construct):
    """The account's ``dpc-operator`` topic, encrypted with a customer-managed key (rotated)
    that CloudWatch may use: alarms cannot publish to a topic under the AWS-managed
    ``aws/sns`` key, whose policy cannot be changed."""

    def __init__(self, scope: Construct, construct_id: str, *, email: str | None = None) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="dpc: encrypts the dpc-operator topic; CloudWatch alarms publish to it",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=["*"],
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=naming.OPERATOR_TOPIC_NAME,
            master_key=self.key,
            enforce_ssl=True,
        )
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))


class OperatorAlarms(Construct):
    """Alarms (≥ 1 in five minutes, missing data not breaching) on what dpc could lose:
    queue depth of every dead-letter queue, Errors and Throttles of every function,
    FailedInvocations and InvocationsSentToDlq of every rule."""

    def __init__(self, scope: Construct, construct_id: str, *, topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        self.topic = topic
        self._action = cloudwatch_actions.SnsAction(topic)

    def watch_queue(self, queue: sqs.Queue, *, name: str) -> None:
        self._alarm(
            name,
            "depth",
            queue.metric_approximate_number_of_messages_visible(
                period=ALARM_PERIOD, statistic="Maximum"
            ),
            f"dpc: {name} holds messages that exhausted their retries (see `dpc redrive`)",
        )

    def watch_function(self, function: lambda_.Function, *, name: str) -> None:
        self._alarm(
            name,
            "errors",
            function.metric_errors(period=ALARM_PERIOD, statistic="Sum"),
            f"dpc: function {name} failed",
        )
        self._alarm(
            name,
            "throttles",
            function.metric_throttles(period=ALARM_PERIOD, statistic="Sum"),
            f"dpc: function {name} was throttled",
        )

    def watch_rule(self, rule: events.Rule, *, rule_name: str, bus_name: str | None = None) -> None:
        """``rule_name`` and ``bus_name`` are the literal names: a rule on a custom bus
        reports its metrics under both (EventBusName, RuleName), one on the default bus under
        RuleName alone; ``rule.rule_name`` (Ref) would read ``bus|rule`` on a custom bus."""
        dimensions = {"RuleName": rule_name}
        if bus_name is not None:
            dimensions["EventBusName"] = bus_name
        for metric_name, what in (
            ("FailedInvocations", "failed-invocations"),
            ("InvocationsSentToDlq", "sent-to-dlq"),
        ):
            alarm = self._alarm(
                rule_name,
                what,
                cloudwatch.Metric(
                    namespace="AWS/Events",
                    metric_name=metric_name,
                    dimensions_map=dimensions,
                    period=ALARM_PERIOD,
                    statistic="Sum",
                ),
                f"dpc: rule {rule_name} could not deliver an event ({metric_name})",
            )
            alarm.node.add_dependency(rule)

    def _alarm(
        self, name: str, what: str, metric: cloudwatch.IMetric, description: str
    ) -> cloudwatch.Alarm:
        alarm_name = naming.alarm_name(name, what)
        alarm = cloudwatch.Alarm(
            self,
            naming.pascal(alarm_name),
            alarm_name=alarm_name,
            alarm_description=description,
            metric=metric,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        return alarm
