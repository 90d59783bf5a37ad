"""Names shared by the Lambdas, the infrastructure and the sandbox: one place for each contract."""

from __future__ import annotations

# Events (DESIGN §6)
SFN_EVENT_SOURCE = "aws.states"
SFN_STATUS_DETAIL_TYPE = "Step Functions Execution Status Change"
TRIGGER_EVENT_SOURCE = "dpc.trigger-manager"
TRIGGER_DETAIL_TYPE = "Pipeline Trigger"
STATUS_SWEEP_SOURCE = "dpc.status-sweep"
"""A status change re-sent by a user account's status sweeper (dpc.lambdas.status_sweeper):
the detail-type and detail of Step Functions' own event (PutEvents refuses ``aws.`` sources)."""

# Well-known names of deployed resources
CENTRAL_BUS_NAME = "dpc-central-bus"
PIPELINE_BUS_NAME = "dpc-pipeline-bus"
EXPORT_RULE_NAME = "export-events-to-central-bus"
TRIGGER_MANAGER_RULE_NAME = "trigger-events-manager"
TRIGGER_MANAGER_TIMEOUT_SECONDS = 60
OUTBOX_LEASE_SECONDS = 3 * TRIGGER_MANAGER_TIMEOUT_SECONDS
"""An outbox entry outlives any invocation that may still publish it (the function's timeout),
plus a margin for clock skew between Lambda hosts and the publish after the last write."""
STATE_MACHINE_PREFIX = "dpc-"
"""Every dpc state machine's name starts with this, so the export rule can match only them."""
TAG_PIPELINE = "dpc:pipeline"
"""Every resource of a pipeline stack, and its EMR clusters: the state machine may act on
clusters carrying its own pipeline's tag only."""
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
ENV_CENTRAL_BUS_ARN = "DPC_CENTRAL_BUS_ARN"
"""The central bus (ARN: another account's) the user account's status sweeper re-sends to."""

# The registry's limits (dpc.lambdas.registry)
MAX_CHILDREN_PER_PARENT = 10_000
"""Dependents one pipeline may have: a parent's status change is decided for every child, so
the registry refuses the one past this with a clear error rather than let fan-out grow
without bound."""
MAX_CHILDREN_PER_ACCOUNT_PER_PARENT = 1_000
"""Dependents one account may register on one parent: without it, one account (a parent's
``dependents`` defaults to every account of the organization) could take all of a parent's
``MAX_CHILDREN_PER_PARENT`` places and lock every other team out of depending on it."""

# The central outbox sweep (dpc.lambdas.outbox_sweeper)
OUTBOX_SWEEPER_DLQ_NAME = "dpc-outbox-sweeper-dlq"
"""The sweeper's on-failure queue and its schedule rule's dead-letter queue (alarmed on)."""
OUTBOX_SWEEP_RULE_NAME = "dpc-outbox-sweep"
OUTBOX_SWEEP_MINUTES = 15

# Alerting (dpc.lambdas.execution_tracker, slack_poster, slack_channel_publisher)
ENV_SLACK_CHANNELS_TABLE = "DPC_SLACK_CHANNELS_TABLE"
ENV_SLACK_THREADS_TABLE = "DPC_SLACK_THREADS_TABLE"
ENV_SLACK_TOKEN_SECRET = "DPC_SLACK_TOKEN_SECRET_ID"
ENV_SLACK_BASE_URL = "DPC_SLACK_BASE_URL"
"""Slack Web API base (default https://slack.com/api); the sandbox and tests point it at a fake."""
ENV_SLACK_CHANNEL_OWNERS = "DPC_SLACK_CHANNEL_OWNERS"
"""JSON object: Slack channel → the accounts the central config reserves it for (allow-list)."""
ENV_SLACK_API_URL = "DPC_SLACK_API_URL"
"""The central Slack API (API Gateway stage URL) the execution tracker posts messages to."""
ENV_NOTIFICATION_TOPIC_ARN = "DPC_NOTIFICATION_TOPIC_ARN"
ENV_NOTIFICATION_TYPE = "DPC_NOTIFICATION_TYPE"
ENV_PIPELINE_NAME = "DPC_PIPELINE_NAME"
ENV_PIPELINE_STEPS = "DPC_PIPELINE_STEPS"
"""JSON object: state name → step name, for the states that are the pipeline's own steps."""

# Late alerts (dpc.lambdas.late_alerts): the central sweep over the due index
LATE_ALERT_SOURCE = "dpc.late-alerts"
LATE_DETAIL_TYPE = "Pipeline Late"
RECOVERED_DETAIL_TYPE = "Pipeline Recovered"
"""Events the late-alert sweep puts on the central bus, one per pipeline told (the late one and
each correlated child it blocks); the route rules carry them to that pipeline's account, where
its own rule hands them to its execution tracker, which publishes them to its topic."""
LATE_SWEEP_RULE_NAME = "dpc-late-alert-sweep"
LATE_SWEEP_MINUTES = 5
LATE_SWEEPER_DLQ_NAME = "dpc-late-alert-sweeper-dlq"
"""The sweeper's on-failure queue and its schedule rule's dead-letter queue (alarmed on)."""
