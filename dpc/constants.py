"""Names shared by the Lambdas, the infrastructure and the sandbox: one place for each contract."""

from __future__ import annotations

# Events (DESIGN §6)
SFN_EVENT_SOURCE = "aws.states"
SFN_STATUS_DETAIL_TYPE = "Step Functions Execution Status Change"
TRIGGER_EVENT_SOURCE = "dpc.trigger-manager"
TRIGGER_DETAIL_TYPE = "Pipeline Trigger"

# Well-known names of deployed resources
CENTRAL_BUS_NAME = "dpc-central-bus"
PIPELINE_BUS_NAME = "dpc-pipeline-bus"
EXPORT_RULE_NAME = "export-events-to-central-bus"
TRIGGER_MANAGER_RULE_NAME = "trigger-events-manager"
STATE_MACHINE_PREFIX = "dpc-"
"""Every dpc state machine's name starts with this, so the export rule can match only them."""
TAG_PERIOD_UNIT = "dpc:period-unit"
TAG_PERIOD_OFFSET_SECONDS = "dpc:period-offset-seconds"
"""Tags on a pipeline's state machine: `dpc run NAME` reads the period from them (§5b)."""

# The starter Lambda's settings (dpc.lambdas.starter)
ENV_STATE_MACHINE_ARN = "DPC_STATE_MACHINE_ARN"
ENV_PERIOD_UNIT = "DPC_PERIOD_UNIT"
ENV_PERIOD_OFFSET_SECONDS = "DPC_PERIOD_OFFSET_SECONDS"

# Environment variables through which the central Lambdas get their settings (dpc.lambdas.tables)
ENV_RUN_LOG_TABLE = "DPC_RUN_LOG_TABLE"
ENV_DEPENDENCIES_TABLE = "DPC_DEPENDENCIES_TABLE"
ENV_TRIGGER_STATE_TABLE = "DPC_TRIGGER_STATE_TABLE"
ENV_EVENT_BUS_NAME = "EVENT_BUS_NAME"
"""The central bus the trigger manager publishes `Pipeline Trigger` events to."""

# Alerting (dpc.lambdas.execution_tracker, slack_poster, slack_channel_publisher)
ENV_SLACK_CHANNELS_TABLE = "DPC_SLACK_CHANNELS_TABLE"
ENV_SLACK_THREADS_TABLE = "DPC_SLACK_THREADS_TABLE"
ENV_SLACK_TOKEN_SECRET = "DPC_SLACK_TOKEN_SECRET_ID"
ENV_SLACK_BASE_URL = "DPC_SLACK_BASE_URL"
"""Slack Web API base (default https://slack.com/api); the sandbox and tests point it at a fake."""
ENV_SLACK_API_URL = "DPC_SLACK_API_URL"
"""The central Slack API (API Gateway stage URL) the execution tracker posts messages to."""
ENV_NOTIFICATION_TOPIC_ARN = "DPC_NOTIFICATION_TOPIC_ARN"
ENV_NOTIFICATION_TYPE = "DPC_NOTIFICATION_TYPE"
ENV_PIPELINE_NAME = "DPC_PIPELINE_NAME"
ENV_PIPELINE_STEPS = "DPC_PIPELINE_STEPS"
"""JSON object: state name → step name, for the states that are the pipeline's own steps."""
