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

# Environment variables through which the central Lambdas get their settings (dpc.lambdas.tables)
ENV_RUN_LOG_TABLE = "DPC_RUN_LOG_TABLE"
ENV_DEPENDENCIES_TABLE = "DPC_DEPENDENCIES_TABLE"
ENV_TRIGGER_STATE_TABLE = "DPC_TRIGGER_STATE_TABLE"
ENV_EVENT_BUS_NAME = "EVENT_BUS_NAME"
"""The central bus the trigger manager publishes `Pipeline Trigger` events to."""
