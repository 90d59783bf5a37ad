"""Construct ids and fixed resource names of the dpc stacks, in one place.

Construct ids decide CloudFormation logical ids, which tests, the sandbox and users'
CDK apps rely on; renaming one replaces a resource, so they live here and nowhere else.
"""

from __future__ import annotations

# Stacks
CENTRAL_STACK_NAME = "dpc-central"
USER_STACK_NAME = "dpc-user-account"
PIPELINE_STACK_PREFIX = "dpc-pipeline-"

# Assets: the bucket the deploy service ensures before publishing (no CDK bootstrap).
ASSETS_BUCKET_NAME = "dpc-assets-${AWS::AccountId}-${AWS::Region}"
ASSETS_PREFIX = "assets/"
"""Where the account-level stacks' assets go in the assets bucket."""


def pipeline_assets_prefix(pipeline_name: str) -> str:
    """A pipeline's own assets (step scripts, Lambda code): the only ones its cluster reads."""
    return f"{ASSETS_PREFIX}pipelines/{pipeline_name}/"


def pipeline_artifacts_prefixes(pipeline_name: str) -> tuple[str, str]:
    """Where a pipeline's cluster may write in the artifacts bucket: its outputs, its logs."""
    return (f"pipelines/{pipeline_name}/", f"logs/emr/{pipeline_name}/")


EMR_TLS_CERTIFICATES_KEY = "emr/tls-certificates.zip"
"""The self-signed PEM bundle of EMR's in-transit encryption, in the assets bucket
(dpc.infra.emr_tls), unless the team gives its own."""
EMR_SECURITY_CONFIGURATION_NAME = "dpc-emr-encryption"
"""Encryption at rest and in transit, for every dpc cluster of the account."""
EXPORT_EMR_DISK_KEY = "dpc-emr-disk-key-arn"
EXPORT_EMR_TLS_CERTIFICATES = "dpc-emr-tls-certificates-arn"

EMR_INSTANCE_ROLE_PATH = "/dpc/emr-instance/"
"""Every pipeline has its own cluster role, under this path: the account's EMR service role
may pass exactly these roles to EC2."""
ARTIFACTS_BUCKET_NAME_PREFIX = "dpc-artifacts"
"""The user stack's artifacts-and-logs bucket is ``dpc-artifacts-<account>-<region>``."""

# Cross-stack exports of the user stack, imported by every pipeline stack.
EXPORT_ARTIFACTS_BUCKET = "dpc-artifacts-bucket-name"
EXPORT_EMR_PUBLIC_SUBNET = "dpc-emr-subnet-id"
"""The public subnet (``cluster.network: public``); the name predates the private one."""
EXPORT_EMR_PRIVATE_SUBNET = "dpc-emr-private-subnet-id"
EXPORT_EMR_SERVICE_ACCESS_SG = "dpc-emr-service-access-security-group-id"
EXPORT_EMR_MASTER_SG = "dpc-emr-master-security-group-id"
EXPORT_EMR_CORE_SG = "dpc-emr-core-security-group-id"
EXPORT_REGISTRATION_PROVIDER = "dpc-registration-provider-arn"
EXPORT_SLACK_API_URL = "dpc-slack-api-url"
EXPORT_CENTRAL_ACCOUNT = "dpc-central-account"
EXPORT_OPERATOR_TOPIC = "dpc-operator-topic-arn"

# Outputs of the central stack (setup-user-account takes the URLs as options).
OUTPUT_DEPENDENCY_API_URL = "DependencyApiUrl"
OUTPUT_SLACK_API_URL = "SlackApiUrl"

# Fixed IAM names, so pipeline stacks can pass them without an import.
EMR_SERVICE_ROLE_NAME = "dpc-emr-service-role"
EMR_AUTOSCALING_ROLE_NAME = "dpc-emr-autoscaling-role"

# Construct ids (PascalCase): central stack
CENTRAL_BUS = "CentralBus"
TABLES = "Tables"
TRIGGER_MANAGER = "TriggerManager"
TRIGGER_MANAGER_FUNCTION = "Function"
TRIGGER_MANAGER_DLQ = "DeadLetterQueue"
TRIGGER_MANAGER_FAN_OUT_POLICY = "FanOutPolicy"
STARTER = "Starter"
TRIGGER_MANAGER_RULE = "Rule"
ROUTES = "Routes"
DEPENDENCY_API = "DependencyApi"
SLACK_TOKEN = "SlackToken"
SLACK_API = "SlackApi"
OUTBOX_SWEEP = "OutboxSweep"
OUTBOX_SWEEP_FUNCTION = "Function"
OUTBOX_SWEEP_DLQ = "DeadLetterQueue"
OUTBOX_SWEEP_SCHEDULE = "Schedule"

# Construct ids: operator alerting (every stack)
OPERATOR_TOPIC = "OperatorTopic"
OPERATOR_ALARMS = "OperatorAlarms"

# Construct ids: user stack
PIPELINE_BUS = "PipelineBus"
EXPORT_RULE = "ExportToCentralBus"
ARTIFACTS_BUCKET = "ArtifactsBucket"
EMR_NETWORK = "EmrNetwork"
EMR_ROLES = "EmrRoles"
EMR_ENCRYPTION = "EmrEncryption"
REGISTRATION_PROVIDER = "RegistrationProvider"
STATUS_SWEEPER = "StatusSweeper"
STATUS_SWEEPER_DLQ_NAME = "dpc-status-sweeper-dlq"
STATUS_SWEEP_RULE_NAME = "dpc-status-sweep"
"""Every dpc dead-letter queue is named ``dpc-…-dlq``: what `dpc doctor` and `dpc redrive` find."""

# Construct ids: pipeline stack
STATE_MACHINE = "StateMachine"
TRIGGERS = "Triggers"
DEPENDENCY_REGISTRATION = "DependencyRegistration"
NOTIFICATIONS = "Notifications"
STEP_SCRIPTS = "StepScripts"
LATE_ALERT_SWEEP = "LateAlertSweep"
LATE_ALERT_SWEEP_FUNCTION = "Function"
LATE_ALERT_SWEEP_DLQ = "DeadLetterQueue"
LATE_ALERT_SWEEP_SCHEDULE = "Schedule"
