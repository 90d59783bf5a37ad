"""A team's account: the pipeline bus, the export rule, artifacts, EMR plumbing, registration.

Everything here is shared by all of the account's pipeline stacks, which import it through
CloudFormation exports (names in ``dpc.infra.ids``) or fixed names (bus, EMR roles).
"""

from __future__ import annotations

from typing import Unpack

from aws_cdk import Aws, CfnOutput, CfnParameter, Duration, RemovalPolicy, Stack, Tags
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_emr as emr
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from dpc import constants, naming
from dpc.infra import ids
from dpc.infra.alarms import OperatorAlarms, OperatorTopic, dead_letter_queue
from dpc.infra.lambda_code import dpc_function
from dpc.infra.nag import suppress
from dpc.infra.stack_options import StackOptions
from dpc.infra.sweeper import StatusSweeper
from dpc.lambdas import registration_provider

NOT_CONFIGURED = registration_provider.NOT_CONFIGURED
"""Stands for a central API URL not given at setup (CloudFormation exports cannot be empty)."""

EMR_MANAGED_TAG = ("for-use-with-amazon-emr-managed-policies", "true")
"""AmazonEMRServicePolicy_v2 only acts on network resources carrying this tag."""


def artifacts_bucket_name() -> str:
    return f"{ids.ARTIFACTS_BUCKET_NAME_PREFIX}-{Aws.ACCOUNT_ID}-{Aws.REGION}"


def assets_bucket_name() -> str:
    return ids.ASSETS_BUCKET_NAME.replace("${AWS::AccountId}", Aws.ACCOUNT_ID).replace(
        "${AWS::Region}", Aws.REGION
    )


class PipelineBus(Construct):
    """The bus that receives this account's Pipeline Trigger events from the central bus."""

    def __init__(self, scope: Construct, construct_id: str, *, central_account: str) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=constants.PIPELINE_BUS_NAME)
        policy = events.CfnEventBusPolicy(
            self,
            "AllowCentralAccount",
            event_bus_name=constants.PIPELINE_BUS_NAME,
            statement_id="AllowCentralAccount",
            statement={
                "Sid": "AllowCentralAccount",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{Aws.PARTITION}:iam::{central_account}:root"},
                "Action": "events:PutEvents",
                "Resource": f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:event-bus/"
                f"{constants.PIPELINE_BUS_NAME}",
            },
        )
        policy.node.add_dependency(self.bus)


class ExportToCentralBus(Construct):
    """Rule ``export-events-to-central-bus``: status changes of dpc state machines only."""

    def __init__(self, scope: Construct, construct_id: str, *, central_account: str) -> None:
        super().__init__(scope, construct_id)
        central_bus = events.EventBus.from_event_bus_arn(
            self,
            "CentralBus",
            f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{central_account}:event-bus/"
            f"{constants.CENTRAL_BUS_NAME}",
        )
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description="Lets the export rule put dpc status changes on the central bus",
        )
        # Cross-account bus targets take a dead-letter queue but no retry policy.
        self.dead_letter_queue = dead_letter_queue(
            self, "DeadLetterQueue", queue_name=naming.EXPORT_DLQ_NAME
        )
        self.rule = events.Rule(
            self,
            "Rule",
            rule_name=constants.EXPORT_RULE_NAME,
            description="Step Functions status changes of dpc pipelines → central bus",
            event_pattern=events.EventPattern(
                source=[constants.SFN_EVENT_SOURCE],
                detail_type=[constants.SFN_STATUS_DETAIL_TYPE],
                detail={
                    "stateMachineArn": [
                        {
                            "prefix": f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}"
                            f":stateMachine:{constants.STATE_MACHINE_PREFIX}"
                        }
                    ]
                },
            ),
            targets=[
                targets.EventBus(central_bus, role=role, dead_letter_queue=self.dead_letter_queue)
            ],
        )


class ArtifactsBucket(Construct):
    """Step outputs and logs (EMR, VPC flow logs): encrypted, private, TLS only, its access
    logged (server access logs, in a bucket beside it), logs expire
    (``log_retention_days``), outputs too if asked (``output_retention_days``; kept by
    default: they are the teams' data), old versions after 30 days, abandoned multipart
    uploads after 7."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        log_retention_days: int,
        output_retention_days: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        outputs = (
            [
                s3.LifecycleRule(
                    id="ExpireOutputs",
                    prefix="pipelines/",
                    expiration=Duration.days(output_retention_days),
                )
            ]
            if output_retention_days
            else []
        )
        # Who read or wrote which object: S3 server access logs, in a bucket of their own.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs", expiration=Duration.days(log_retention_days)
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        suppress(
            self.access_logs,
            "AwsSolutions-S1",
            "This bucket receives the artifacts bucket's server access logs; logging the "
            "access to it would need yet another bucket, without end.",
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=artifacts_bucket_name(),
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="artifacts/",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireLogs",
                    prefix="logs/",
                    expiration=Duration.days(log_retention_days),
                    noncurrent_version_expiration=Duration.days(7),
                ),
                *outputs,
                s3.LifecycleRule(
                    id="ExpireOldVersions",
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                ),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )


class EmrNetwork(Construct):
    """A small VPC for EMR: private subnets without any route to the internet (where clusters
    run by default; S3 through a free gateway endpoint), public subnets for pipelines that ask
    for ``cluster.network: public`` (no NAT gateway to pay for), and the EMR-managed security
    groups, including the service-access group EMR requires in a private subnet."""

    def __init__(self, scope: Construct, construct_id: str, *, flow_logs: s3.IBucket) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC),
                ec2.SubnetConfiguration(
                    name="Private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
                ),
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)
            },
            flow_logs={
                "FlowLogs": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_s3(flow_logs, "logs/vpc-flow/")
                )
            },
        )
        self.master = ec2.SecurityGroup(
            self, "Master", vpc=self.vpc, description="dpc EMR primary node (rules managed by EMR)"
        )
        self.core = ec2.SecurityGroup(
            self, "Core", vpc=self.vpc, description="dpc EMR core nodes (rules managed by EMR)"
        )
        self.service_access = ec2.SecurityGroup(
            self,
            "ServiceAccess",
            vpc=self.vpc,
            description="dpc EMR service access in the private subnet (rules managed by EMR)",
            allow_all_outbound=False,
        )
        Tags.of(self).add(*EMR_MANAGED_TAG)


class EmrRoles(Construct):
    """EMR's service role and the autoscaling role, shared by the account's pipelines.

    Fixed names (``dpc.infra.ids``), because every pipeline's state machine passes them. The
    cluster (instance) role is each pipeline's own (dpc.infra.pipeline), so a pipeline's
    steps read only its scripts and write only its prefixes.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.service_role = iam.Role(
            self,
            "ServiceRole",
            role_name=ids.EMR_SERVICE_ROLE_NAME,
            assumed_by=iam.ServicePrincipal("elasticmapreduce.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AmazonEMRServicePolicy_v2"
                )
            ],
            description="dpc EMR service role (acts only on resources tagged for EMR)",
        )
        self.service_role.add_to_policy(
            iam.PolicyStatement(
                sid="PassPipelineClusterRoles",
                actions=["iam:PassRole"],
                resources=[
                    f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role{ids.EMR_INSTANCE_ROLE_PATH}*"
                ],
                conditions={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
            )
        )
        suppress(
            self.service_role,
            "AwsSolutions-IAM5",
            "Pipelines deployed later each bring their own cluster role under "
            f"{ids.EMR_INSTANCE_ROLE_PATH}; EMR may pass exactly those, and only to EC2.",
            findings=[
                f"Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role{ids.EMR_INSTANCE_ROLE_PATH}*"
            ],
        )
        suppress(
            self.service_role,
            "AwsSolutions-IAM4",
            "AmazonEMRServicePolicy_v2 is the AWS-maintained, tag-scoped policy EMR requires.",
            findings=[
                "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2"
            ],
        )

        self.autoscaling_role = iam.Role(
            self,
            "AutoScalingRole",
            role_name=ids.EMR_AUTOSCALING_ROLE_NAME,
            assumed_by=iam.CompositePrincipal(
                iam.ServicePrincipal("elasticmapreduce.amazonaws.com"),
                iam.ServicePrincipal("application-autoscaling.amazonaws.com"),
            ),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AmazonElasticMapReduceforAutoScalingRole"
                )
            ],
            description="dpc EMR automatic scaling",
        )
        suppress(
            self.autoscaling_role,
            "AwsSolutions-IAM4",
            "AmazonElasticMapReduceforAutoScalingRole is the AWS-maintained policy EMR scaling "
            "requires.",
            findings=[
                "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonElasticMapReduceforAutoScalingRole"
            ],
        )


DISK_KEY_USE = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
)
"""What EMR's nodes and service role do with the disk key (no wildcard actions)."""


class EmrEncryption(Construct):
    """The EMR security configuration every dpc cluster runs with: S3 data encrypted (SSE-S3),
    local disks and EBS volumes with a KMS key of the account, traffic between nodes over TLS
    with the PEM bundle at ``certificates`` (dpc.infra.emr_tls)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service_role: iam.IRole,
        certificates: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.disk_key = kms.Key(
            self,
            "DiskKey",
            description="dpc: EMR local disk and EBS encryption",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # EMR attaches the encrypted EBS volumes with its service role (through grants).
        self.disk_key.grant(
            service_role, *DISK_KEY_USE, "kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"
        )
        self.certificates = certificates
        self.configuration = emr.CfnSecurityConfiguration(
            self,
            "SecurityConfiguration",
            name=ids.EMR_SECURITY_CONFIGURATION_NAME,
            security_configuration={
                "EncryptionConfiguration": {
                    "EnableAtRestEncryption": True,
                    "AtRestEncryptionConfiguration": {
                        "S3EncryptionConfiguration": {"EncryptionMode": "SSE-S3"},
                        "LocalDiskEncryptionConfiguration": {
                            "EncryptionKeyProviderType": "AwsKms",
                            "AwsKmsKey": self.disk_key.key_arn,
                            "EnableEbsEncryption": True,
                        },
                    },
                    "EnableInTransitEncryption": True,
                    "InTransitEncryptionConfiguration": {
                        "TLSCertificateConfiguration": {
                            "CertificateProviderType": "PEM",
                            "S3Object": certificates,
                        }
                    },
                }
            },
        )


def s3_uri_to_object_arn(uri: str) -> str:
    """``s3://bucket/key`` → the object's ARN (for the cluster roles' read grant)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return f"arn:{Aws.PARTITION}:s3:::{bucket}/{key}"


class RegistrationProvider(Construct):
    """The custom-resource provider pipeline stacks use to register with the central API."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        central_account: str,
        api_url: str,
        slack_api_url: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = dpc_function(
            self,
            "Function",
            handler="dpc.lambdas.registration_provider.handler",
            description="dpc: registers pipelines and Slack channels with the central APIs",
            environment={
                registration_provider.ENV_DEPENDENCY_API_URL: api_url,
                registration_provider.ENV_SLACK_API_URL: slack_api_url,
            },
            timeout=Duration.seconds(60),
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["execute-api:Invoke"],
                resources=[
                    f"arn:{Aws.PARTITION}:execute-api:{Aws.REGION}:{central_account}:*/*/"
                    f"{method}/{path}/*"
                    for method in ("PUT", "DELETE")
                    for path in ("pipelines", "channels")
                ],
            )
        )
        suppress(
            self.function,
            "AwsSolutions-IAM5",
            "The central APIs' ids are not known in the user account; the grant is limited "
            "to PUT/DELETE /pipelines/* and /channels/* of the central account's APIs.",
            findings=[
                f"Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:{central_account}:"
                f"*/*/{method}/{path}/*"
                for method in ("PUT", "DELETE")
                for path in ("pipelines", "channels")
            ],
        )


class UserAccountStack(Stack):
    """Everything `dpc setup-user-account` deploys."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str = ids.USER_STACK_NAME,
        *,
        central_account: str,
        api_url: str = "",
        slack_api_url: str = "",
        log_retention_days: int = 90,
        output_retention_days: int | None = None,
        operator_email: str | None = None,
        emr_tls_certificates: str | None = None,
        **stack_options: Unpack[StackOptions],
    ) -> None:
        super().__init__(scope, construct_id, **stack_options)
        Tags.of(self).add("dpc:component", "user-account")
        api_url_parameter = CfnParameter(
            self,
            "DependencyApiUrl",
            type="String",
            default=api_url or NOT_CONFIGURED,
            description="URL of the central dependency API (output of setup-central-account)",
        )
        slack_api_url_parameter = CfnParameter(
            self,
            "SlackApiUrl",
            type="String",
            default=slack_api_url or NOT_CONFIGURED,
            description="URL of the central Slack API (output of setup-central-account)",
        )
        self.pipeline_bus = PipelineBus(self, ids.PIPELINE_BUS, central_account=central_account)
        self.export_rule = ExportToCentralBus(
            self, ids.EXPORT_RULE, central_account=central_account
        )
        self.sweeper = StatusSweeper(self, ids.STATUS_SWEEPER, central_account=central_account)
        self.artifacts = ArtifactsBucket(
            self,
            ids.ARTIFACTS_BUCKET,
            log_retention_days=log_retention_days,
            output_retention_days=output_retention_days,
        )
        self.network = EmrNetwork(self, ids.EMR_NETWORK, flow_logs=self.artifacts.bucket)
        self.emr_roles = EmrRoles(self, ids.EMR_ROLES)
        self.emr_encryption = EmrEncryption(
            self,
            ids.EMR_ENCRYPTION,
            service_role=self.emr_roles.service_role,
            certificates=emr_tls_certificates
            or f"s3://{assets_bucket_name()}/{ids.EMR_TLS_CERTIFICATES_KEY}",
        )
        self.registration = RegistrationProvider(
            self,
            ids.REGISTRATION_PROVIDER,
            central_account=central_account,
            api_url=api_url_parameter.value_as_string,
            slack_api_url=slack_api_url_parameter.value_as_string,
        )
        self.operator_topic = OperatorTopic(self, ids.OPERATOR_TOPIC, email=operator_email)
        self.alarms = OperatorAlarms(self, ids.OPERATOR_ALARMS, topic=self.operator_topic.topic)
        self.alarms.watch_rule(self.export_rule.rule, rule_name=constants.EXPORT_RULE_NAME)
        self.alarms.watch_queue(self.export_rule.dead_letter_queue, name=naming.EXPORT_DLQ_NAME)
        self.alarms.watch_function(self.registration.function, name="registration-provider")
        self.alarms.watch_function(self.sweeper.function, name="status-sweeper")
        self.alarms.watch_queue(self.sweeper.dead_letter_queue, name=ids.STATUS_SWEEPER_DLQ_NAME)
        self.alarms.watch_rule(self.sweeper.rule, rule_name=ids.STATUS_SWEEP_RULE_NAME)
        exports = {
            ids.EXPORT_OPERATOR_TOPIC: self.operator_topic.topic.topic_arn,
            ids.EXPORT_ARTIFACTS_BUCKET: self.artifacts.bucket.bucket_name,
            ids.EXPORT_EMR_PUBLIC_SUBNET: self.network.vpc.public_subnets[0].subnet_id,
            ids.EXPORT_EMR_PRIVATE_SUBNET: self.network.vpc.isolated_subnets[0].subnet_id,
            ids.EXPORT_EMR_MASTER_SG: self.network.master.security_group_id,
            ids.EXPORT_EMR_CORE_SG: self.network.core.security_group_id,
            ids.EXPORT_EMR_SERVICE_ACCESS_SG: self.network.service_access.security_group_id,
            ids.EXPORT_EMR_DISK_KEY: self.emr_encryption.disk_key.key_arn,
            ids.EXPORT_EMR_TLS_CERTIFICATES: s3_uri_to_object_arn(self.emr_encryption.certificates),
            ids.EXPORT_REGISTRATION_PROVIDER: self.registration.function.function_arn,
            ids.EXPORT_SLACK_API_URL: slack_api_url_parameter.value_as_string,
            ids.EXPORT_CENTRAL_ACCOUNT: central_account,
        }
        for export_name, value in exports.items():
            CfnOutput(
                self,
                "".join(part.title() for part in export_name.split("-")),
                value=value,
                export_name=export_name,
            )
