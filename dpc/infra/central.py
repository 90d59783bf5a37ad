"""The central account: the central bus, the trigger manager, the registry and the routes.

One construct per resource group, each with keyword-only props, assembled by
``CentralStack``. Rules name the central bus by NAME (``EventBus.from_event_bus_name``)
with an explicit dependency on it: equally valid on AWS, and the form moto's
CloudFormation can deploy (DESIGN §8).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from aws_cdk import Aws, CfnOutput, Duration, RemovalPolicy, Stack, Tags
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from dpc import constants, naming
from dpc.infra import ids
from dpc.infra.alarms import (
    RULE_MAX_EVENT_AGE,
    RULE_RETRY_ATTEMPTS,
    OperatorAlarms,
    OperatorTopic,
    bound_async_retries,
    dead_letter_queue,
)
from dpc.infra.lambda_code import dpc_function
from dpc.infra.nag import suppress
from dpc.lambdas.apigw import ApiError
from dpc.lambdas.slack_channels import channel_name
from dpc.lambdas.tables import (
    CENTRAL_TABLES,
    DEPENDENCIES,
    REGISTRY_TABLES,
    RUN_LOG,
    SLACK_CHANNELS,
    SLACK_TABLES,
    SLACK_THREADS,
    TRIGGER_STATE,
    Index,
    Key,
    Table,
)


def route_rule_name(account: str) -> str:
    return f"dpc-route-to-{account}"


def pipeline_bus_arn(account: str) -> str:
    return (
        f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{account}:event-bus/{constants.PIPELINE_BUS_NAME}"
    )


def _attribute(key: Key) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=dynamodb.AttributeType(_KEY_TYPES[key.type]))


_KEY_TYPES = {"S": "STRING", "N": "NUMBER", "B": "BINARY"}


class CentralBus(Construct):
    """The central bus, open to PutEvents only from the listed accounts or the organization."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        user_accounts: Sequence[str],
        organization_id: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=constants.CENTRAL_BUS_NAME)
        bus_arn = (
            f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:event-bus/"
            f"{constants.CENTRAL_BUS_NAME}"
        )
        if organization_id:
            statement = events.CfnEventBusPolicy(
                self,
                "AllowOrganization",
                event_bus_name=constants.CENTRAL_BUS_NAME,
                statement_id="AllowOrganization",
                statement={
                    "Sid": "AllowOrganization",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "events:PutEvents",
                    "Resource": bus_arn,
                    "Condition": {"StringEquals": {"aws:PrincipalOrgID": organization_id}},
                },
            )
            statement.node.add_dependency(self.bus)
        for account in user_accounts:
            statement = events.CfnEventBusPolicy(
                self,
                f"Allow{account}",
                event_bus_name=constants.CENTRAL_BUS_NAME,
                statement_id=f"AllowAccount{account}",
                statement={
                    "Sid": f"AllowAccount{account}",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{Aws.PARTITION}:iam::{account}:root"},
                    "Action": "events:PutEvents",
                    "Resource": bus_arn,
                },
            )
            statement.node.add_dependency(self.bus)

    def by_name(self, scope: Construct, construct_id: str) -> events.IEventBus:
        """The bus as rules must reference it: by name (DESIGN §8)."""
        return events.EventBus.from_event_bus_name(scope, construct_id, constants.CENTRAL_BUS_NAME)


class CentralTables(Construct):
    """The tables described in dpc.lambdas.tables: on-demand, encrypted, PITR, retained."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        tables: Sequence[Table] = CENTRAL_TABLES + SLACK_TABLES,
    ) -> None:
        super().__init__(scope, construct_id)
        self.tables: dict[str, dynamodb.Table] = {}
        for spec in tables:
            table = dynamodb.Table(
                self,
                spec.logical_id,
                partition_key=_attribute(spec.partition_key),
                sort_key=_attribute(spec.sort_key) if spec.sort_key else None,
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                time_to_live_attribute=spec.ttl_attribute,
                removal_policy=RemovalPolicy.RETAIN,
                deletion_protection=True,
            )
            for index in spec.indexes:
                self._add_index(table, index)
            self.tables[spec.env_var] = table

    @staticmethod
    def _add_index(table: dynamodb.Table, index: Index) -> None:
        if index.local:
            assert index.sort_key is not None, "a local index always has a sort key"
            table.add_local_secondary_index(
                index_name=index.name, sort_key=_attribute(index.sort_key)
            )
        else:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_attribute(index.partition_key),
                sort_key=_attribute(index.sort_key) if index.sort_key else None,
            )

    def environment_for(self, specs: Sequence[Table]) -> dict[str, str]:
        """The env vars through which a handler finds ``specs``' physical table names."""
        return {spec.env_var: self.tables[spec.env_var].table_name for spec in specs}

    def index_findings(self, specs: Sequence[Table]) -> list[str]:
        """The IAM5 findings read/write grants raise for ``<table arn>/index/*``."""
        stack = Stack.of(self)
        return [
            f"Resource::<{stack.resolve(self.tables[s.env_var].node.default_child.logical_id)}"  # type: ignore[union-attr]
            ".Arn>/index/*"
            for s in specs
            if s.indexes
        ]

    def grant_read_write(self, grantee: iam.IGrantable, specs: Sequence[Table]) -> None:
        for spec in specs:
            self.tables[spec.env_var].grant_read_write_data(grantee)

    def grant_read(self, grantee: iam.IGrantable, specs: Sequence[Table]) -> None:
        for spec in specs:
            self.tables[spec.env_var].grant_read_data(grantee)


class TriggerManager(Construct):
    """Rule ``trigger-events-manager`` on the central bus → the trigger-manager Lambda.

    EventBridge retries delivery for a day and parks what it cannot deliver in an
    encrypted SQS dead-letter queue, so no status change is silently lost.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        central_bus: CentralBus,
        tables: CentralTables,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = dpc_function(
            self,
            ids.TRIGGER_MANAGER_FUNCTION,
            handler="dpc.lambdas.trigger_manager.handler",
            description="dpc: logs runs, evaluates children's trigger conditions, publishes "
            "Pipeline Trigger events",
            environment={
                **tables.environment_for(CENTRAL_TABLES),
                constants.ENV_EVENT_BUS_NAME: constants.CENTRAL_BUS_NAME,
            },
            timeout=Duration.seconds(constants.TRIGGER_MANAGER_TIMEOUT_SECONDS),
        )
        # Least privilege: the registry is only read here (the dependencies publisher writes it).
        tables.grant_read_write(self.function, (RUN_LOG, TRIGGER_STATE))
        tables.grant_read(self.function, (DEPENDENCIES,))
        central_bus.bus.grant_put_events_to(self.function)
        # Fan-out chunks go to asynchronous invocations of this function. A policy of its
        # own: in the role's default policy, the function's ARN would close a dependency
        # cycle (the function waits for that policy).
        iam.Policy(
            self,
            ids.TRIGGER_MANAGER_FAN_OUT_POLICY,
            roles=[self.function.role] if self.function.role else [],
            statements=[
                iam.PolicyStatement(
                    actions=["lambda:InvokeFunction"], resources=[self.function.function_arn]
                )
            ],
        )
        suppress(
            self.function,
            "AwsSolutions-IAM5",
            "Access to the central tables includes their indexes (table-arn/index/*), "
            "which the run log and registry queries use.",
            findings=tables.index_findings(CENTRAL_TABLES),
        )

        self.dead_letter_queue = dead_letter_queue(
            self, ids.TRIGGER_MANAGER_DLQ, queue_name=naming.TRIGGER_MANAGER_DLQ_NAME
        )
        bound_async_retries(self.function, self.dead_letter_queue)
        self.rule = events.Rule(
            self,
            ids.TRIGGER_MANAGER_RULE,
            rule_name=constants.TRIGGER_MANAGER_RULE_NAME,
            description="Step Functions status changes of dpc pipelines → trigger manager",
            event_bus=central_bus.by_name(self, "CentralBusByName"),
            event_pattern=events.EventPattern(
                source=[constants.SFN_EVENT_SOURCE, constants.STATUS_SWEEP_SOURCE],
                detail_type=[constants.SFN_STATUS_DETAIL_TYPE],
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
        self.rule.node.add_dependency(central_bus.bus)


class TriggerRoutes(Construct):
    """One rule per user account: that account's Pipeline Trigger events, and the late and
    recovered alerts of its pipelines (dpc.lambdas.late_alerts), → its pipeline bus.

    The listed accounts may put events on the central bus too, so source and detail alone
    prove nothing: a rule forwards only events whose envelope ``account`` is the central
    account, i.e. the trigger manager's own PutEvents. EventBridge sets that field to the
    putting account, so a user account cannot forge it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        central_bus: CentralBus,
        user_accounts: Sequence[str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.rules: dict[str, events.Rule] = {}
        self.dead_letter_queue: sqs.Queue | None = None
        if not user_accounts:
            return
        # Cross-account bus targets take a dead-letter queue but no retry policy.
        self.dead_letter_queue = dead_letter_queue(
            self, "DeadLetterQueue", queue_name=naming.ROUTE_DLQ_NAME
        )
        bus = central_bus.by_name(self, "CentralBusByName")
        central_account = Stack.of(self).account
        role = iam.Role(
            self,
            "RouteRole",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description="Lets the route rules put trigger events on the user accounts' buses",
        )
        for account in user_accounts:
            target_bus = events.EventBus.from_event_bus_arn(
                self, f"PipelineBus{account}", pipeline_bus_arn(account)
            )
            rule = events.Rule(
                self,
                f"Route{account}",
                rule_name=route_rule_name(account),
                description=f"Pipeline Trigger events for account {account} → its pipeline bus",
                event_bus=bus,
                event_pattern=events.EventPattern(
                    source=[constants.TRIGGER_EVENT_SOURCE, constants.LATE_ALERT_SOURCE],
                    detail_type=[
                        constants.TRIGGER_DETAIL_TYPE,
                        constants.LATE_DETAIL_TYPE,
                        constants.RECOVERED_DETAIL_TYPE,
                    ],
                    account=[central_account],
                    detail={"account": [account]},
                ),
                targets=[
                    targets.EventBus(
                        target_bus, role=role, dead_letter_queue=self.dead_letter_queue
                    )
                ],
            )
            rule.node.add_dependency(central_bus.bus)
            self.rules[account] = rule


class SignedApi(Construct):
    """A REST API for dpc's own callers: IAM (SigV4) auth on every method, a resource policy
    admitting only the organization / the listed accounts, access logs, request validation.

    ``routes`` maps a path (``/pipelines/{account}/{name}``) to its methods and the Lambda
    behind them; the handlers trust the caller's account from the signature, not the path.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api_name: str,
        description: str,
        routes: Sequence[tuple[str, Sequence[str], lambda_.IFunction]],
        user_accounts: Sequence[str],
        organization_id: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        access_logs = logs.LogGroup(self, "AccessLogs", retention=logs.RetentionDays.ONE_YEAR)
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=api_name,
            description=description,
            policy=self._resource_policy(user_accounts, organization_id),
            default_method_options=apigw.MethodOptions(
                authorization_type=apigw.AuthorizationType.IAM
            ),
            deploy_options=apigw.StageOptions(
                stage_name="v1",
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                tracing_enabled=True,
            ),
            cloud_watch_role=False,
        )
        validator = self.api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        for path, methods, function in routes:
            resource = self.api.root.resource_for_path(path)
            parameters = {
                f"method.request.path.{part[1:-1]}": True
                for part in path.split("/")
                if part.startswith("{")
            }
            for method in methods:
                resource.add_method(
                    method,
                    apigw.LambdaIntegration(function),
                    request_validator=validator,
                    request_parameters=parameters or None,
                )
        self.url = self.api.url
        suppress(
            self.api,
            "AwsSolutions-APIG3",
            "Only IAM-signed requests from the admitted accounts reach the API (AWS_IAM "
            "authorization and a resource policy), and the handlers bound every input; a web "
            "ACL (rate or IP rules) is the operator's to attach to the stage if wanted.",
        )
        suppress(
            self.api,
            "AwsSolutions-APIG6",
            "Execution logging needs the account-wide API Gateway CloudWatch role, which dpc "
            "does not take over; access logging is on.",
        )
        suppress(
            self.api,
            "AwsSolutions-COG4",
            "The API uses IAM (SigV4) authorization: callers are dpc Lambdas and custom "
            "resources in the user accounts, not Cognito users.",
        )

    @staticmethod
    def _resource_policy(
        user_accounts: Sequence[str], organization_id: str | None
    ) -> iam.PolicyDocument:
        statements = []
        invoke = "execute-api:/*"
        if organization_id:
            statements.append(
                iam.PolicyStatement(
                    actions=["execute-api:Invoke"],
                    principals=[iam.AnyPrincipal()],
                    resources=[invoke],
                    conditions={"StringEquals": {"aws:PrincipalOrgID": organization_id}},
                )
            )
        if user_accounts:
            statements.append(
                iam.PolicyStatement(
                    actions=["execute-api:Invoke"],
                    principals=[iam.AccountPrincipal(a) for a in user_accounts],
                    resources=[invoke],
                )
            )
        return iam.PolicyDocument(statements=statements)


class DependencyApi(Construct):
    """The dependency-management API: ``PUT``/``DELETE /pipelines/{account}/{name}`` →
    the dependencies publisher."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        tables: CentralTables,
        user_accounts: Sequence[str],
        organization_id: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = dpc_function(
            self,
            "Publisher",
            handler="dpc.lambdas.dependencies_publisher.handler",
            description="dpc: registers and removes pipelines and their trigger conditions",
            environment=tables.environment_for(REGISTRY_TABLES),
        )
        # The registry and the children's state it resets; never the run log.
        tables.grant_read_write(self.function, REGISTRY_TABLES)
        suppress(
            self.function,
            "AwsSolutions-IAM5",
            "Read/write on the registry and trigger-state tables includes their indexes "
            "(table-arn/index/*).",
            findings=tables.index_findings(REGISTRY_TABLES),
        )
        self.api = SignedApi(
            self,
            "Api",
            api_name="dpc-dependency-api",
            description="dpc dependency management: register and remove pipelines",
            routes=[("pipelines/{account}/{name}", ("PUT", "DELETE"), self.function)],
            user_accounts=user_accounts,
            organization_id=organization_id,
        )
        self.url = self.api.url


class SlackApi(Construct):
    """The Slack API: ``POST /messages`` → Slack poster (token from Secrets Manager),
    ``PUT``/``DELETE /channels/{account}/{name}`` → Slack-channel publisher.

    ``channel_owners`` is the central config's allow-list (channel → accounts), which wins
    over first-come ownership of a channel (dpc.lambdas.slack_channels); both functions get
    it, the publisher to refuse registrations and the poster to stop messages at once when
    the data-platform team changes it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        tables: CentralTables,
        token: secretsmanager.ISecret,
        user_accounts: Sequence[str],
        organization_id: str | None,
        channel_owners: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        owners = (
            {constants.ENV_SLACK_CHANNEL_OWNERS: _owners_json(channel_owners)}
            if channel_owners
            else {}
        )
        self.owners_environment = owners
        """The allow-list as the functions read it (the late-alert sweep posts like the poster)."""
        self.poster = dpc_function(
            self,
            "Poster",
            handler="dpc.lambdas.slack_poster.handler",
            description="dpc: posts run messages to Slack, one thread per execution",
            environment={
                **tables.environment_for(SLACK_TABLES),
                constants.ENV_SLACK_TOKEN_SECRET: token.secret_arn,
                **owners,
            },
        )
        # The poster only looks channels up (the channel publisher writes them); it keeps
        # its threads itself.
        tables.grant_read(self.poster, (SLACK_CHANNELS,))
        tables.grant_read_write(self.poster, (SLACK_THREADS,))
        token.grant_read(self.poster)
        self.channel_publisher = dpc_function(
            self,
            "ChannelPublisher",
            handler="dpc.lambdas.slack_channel_publisher.handler",
            description="dpc: registers the Slack channels of a pipeline",
            environment={**tables.environment_for((SLACK_CHANNELS,)), **owners},
        )
        # Pipelines' channel lists and channels' owners, changed in one transaction.
        tables.grant_read_write(self.channel_publisher, (SLACK_CHANNELS,))
        self.api = SignedApi(
            self,
            "Api",
            api_name="dpc-slack-api",
            description="dpc Slack alerting: post run messages, register channels",
            routes=[
                ("messages", ("POST",), self.poster),
                ("channels/{account}/{name}", ("PUT", "DELETE"), self.channel_publisher),
            ],
            user_accounts=user_accounts,
            organization_id=organization_id,
        )
        self.url = self.api.url


def _owners_json(channel_owners: Mapping[str, Sequence[str]]) -> str:
    """The allow-list as the functions read it, with each channel as ownership names it."""
    owners: dict[str, list[str]] = {}
    for channel, accounts in channel_owners.items():
        try:
            name = channel_name(channel)
        except ApiError as error:
            raise ValueError(str(error)) from None
        if not accounts or not all(a.isdigit() and len(a) == 12 for a in accounts):
            raise ValueError(f"Slack channel {channel}: owners must be 12-digit account ids")
        owners[name] = sorted({*owners.get(name, []), *accounts})
    return json.dumps(owners, sort_keys=True, separators=(",", ":"))


class SlackToken(Construct):
    """The Slack bot token lives only in Secrets Manager: never in YAML, never in a template.

    The secret is created with a random placeholder; the data-platform team stores the real
    token with ``aws secretsmanager put-secret-value``.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            secret_name="dpc/slack-token",
            description="dpc: Slack bot token used by the Slack poster",
            removal_policy=RemovalPolicy.RETAIN,
        )
        suppress(
            self.secret,
            "AwsSolutions-SMG4",
            "dpc uses a Slack bot token without Slack's token rotation (a rotating token "
            "expires every 12 hours and needs a refresh function holding the app's client "
            "secret); the token is revoked and re-issued in Slack, then stored here with "
            "put-secret-value.",
        )


class CentralStack(Stack):
    """Everything `dpc setup-central-account` deploys."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str = ids.CENTRAL_STACK_NAME,
        *,
        user_accounts: Sequence[str] = (),
        organization_id: str | None = None,
        operator_email: str | None = None,
        slack_channel_owners: Mapping[str, Sequence[str]] | None = None,
        **stack_options: object,
    ) -> None:
        if not user_accounts and not organization_id:
            raise ValueError("the central bus needs user accounts or an organization id")
        super().__init__(scope, construct_id, **stack_options)  # type: ignore[arg-type]
        Tags.of(self).add("dpc:component", "central")
        self.central_bus = CentralBus(
            self, ids.CENTRAL_BUS, user_accounts=user_accounts, organization_id=organization_id
        )
        self.tables = CentralTables(self, ids.TABLES)
        self.trigger_manager = TriggerManager(
            self, ids.TRIGGER_MANAGER, central_bus=self.central_bus, tables=self.tables
        )
        self.routes = TriggerRoutes(
            self, ids.ROUTES, central_bus=self.central_bus, user_accounts=user_accounts
        )
        self.dependency_api = DependencyApi(
            self,
            ids.DEPENDENCY_API,
            tables=self.tables,
            user_accounts=user_accounts,
            organization_id=organization_id,
        )
        from dpc.infra.outbox_sweep import OutboxSweep  # it builds on this module's constructs

        self.outbox_sweep = OutboxSweep(
            self, ids.OUTBOX_SWEEP, central_bus=self.central_bus, tables=self.tables
        )
        self.slack_token = SlackToken(self, ids.SLACK_TOKEN)
        self.slack_api = SlackApi(
            self,
            ids.SLACK_API,
            tables=self.tables,
            token=self.slack_token.secret,
            user_accounts=user_accounts,
            organization_id=organization_id,
            channel_owners=slack_channel_owners,
        )
        from dpc.infra.late_alerts import LateAlertSweep  # it builds on this module's constructs

        self.late_alert_sweep = LateAlertSweep(
            self,
            ids.LATE_ALERT_SWEEP,
            central_bus=self.central_bus,
            tables=self.tables,
            slack_token=self.slack_token.secret,
            slack_environment=self.slack_api.owners_environment,
        )
        self.operator_topic = OperatorTopic(self, ids.OPERATOR_TOPIC, email=operator_email)
        self.alarms = OperatorAlarms(self, ids.OPERATOR_ALARMS, topic=self.operator_topic.topic)
        self.alarms.watch_function(self.trigger_manager.function, name="trigger-manager")
        self.alarms.watch_queue(
            self.trigger_manager.dead_letter_queue, name=naming.TRIGGER_MANAGER_DLQ_NAME
        )
        self.alarms.watch_rule(
            self.trigger_manager.rule,
            rule_name=constants.TRIGGER_MANAGER_RULE_NAME,
            bus_name=constants.CENTRAL_BUS_NAME,
        )
        if self.routes.dead_letter_queue is not None:
            self.alarms.watch_queue(self.routes.dead_letter_queue, name=naming.ROUTE_DLQ_NAME)
        for account, rule in self.routes.rules.items():
            self.alarms.watch_rule(
                rule, rule_name=route_rule_name(account), bus_name=constants.CENTRAL_BUS_NAME
            )
        self.alarms.watch_function(self.dependency_api.function, name="dependencies-publisher")
        self.alarms.watch_function(self.slack_api.poster, name="slack-poster")
        self.alarms.watch_function(self.slack_api.channel_publisher, name="slack-channel-publisher")
        self.alarms.watch_function(self.outbox_sweep.function, name="outbox-sweeper")
        self.alarms.watch_queue(
            self.outbox_sweep.dead_letter_queue, name=constants.OUTBOX_SWEEPER_DLQ_NAME
        )
        self.alarms.watch_rule(self.outbox_sweep.rule, rule_name=constants.OUTBOX_SWEEP_RULE_NAME)
        self.alarms.watch_function(self.late_alert_sweep.function, name="late-alert-sweeper")
        self.alarms.watch_queue(
            self.late_alert_sweep.dead_letter_queue, name=constants.LATE_SWEEPER_DLQ_NAME
        )
        self.alarms.watch_rule(self.late_alert_sweep.rule, rule_name=constants.LATE_SWEEP_RULE_NAME)
        CfnOutput(
            self,
            ids.OUTPUT_DEPENDENCY_API_URL,
            value=self.dependency_api.url,
            description="Pass to `dpc setup-user-account --api-url`",
        )
        CfnOutput(
            self,
            ids.OUTPUT_SLACK_API_URL,
            value=self.slack_api.url,
            description="Pass to `dpc setup-user-account --slack-api-url`",
        )
        CfnOutput(self, "CentralBusArn", value=self.central_bus.bus.event_bus_arn)
