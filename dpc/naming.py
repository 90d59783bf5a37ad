"""Names dpc derives from a pipeline's and its steps' names, for AWS resources and CDK
constructs: one place, used by the stacks (dpc.infra) and by validate (dpc.spec.limits)."""

from __future__ import annotations

from dpc.constants import STATE_MACHINE_PREFIX


def schedule_rule_name(pipeline: str) -> str:
    return f"{STATE_MACHINE_PREFIX}{pipeline}-schedule"


def trigger_rule_name(pipeline: str) -> str:
    return f"{STATE_MACHINE_PREFIX}{pipeline}-trigger"


def late_alert_rule_name(pipeline: str) -> str:
    """The pipeline-bus rule handing the pipeline's late and recovered alerts to its tracker
    (shorter than the schedule rule's name, so it fits wherever that one does)."""
    return f"{STATE_MACHINE_PREFIX}{pipeline}-late"


RULE_NAME_LIMIT = 64
"""EventBridge rule names: at most 64 characters."""


def longest_pipeline_name() -> int:
    """The longest pipeline name whose derived names all fit (validate and the APIs)."""
    return RULE_NAME_LIMIT - max(len(schedule_rule_name("")), len(trigger_rule_name("")))


def step_state_name(step: str) -> str:
    return f"Step {step}"


def pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("_", "-").split("-"))


def step_construct_id(step: str) -> str:
    return f"Step{pascal(step)}"


def step_args_key(step: str) -> str:
    """Where PrepareSteps puts a step's arguments: a JSONPath-safe key for any step name
    (names may hold '.', which JSONPath would read as a path)."""
    return "s" + step.encode().hex()


# Operator alerting (issue 11, "no silent drop"): `dpc doctor` / `dpc redrive` find every
# dpc dead-letter queue by the prefix and suffix, and every dpc alarm by the prefix.
DLQ_PREFIX = "dpc-"
DLQ_SUFFIX = "-dlq"
ALARM_PREFIX = "dpc-"
OPERATOR_TOPIC_NAME = "dpc-operator"
TRIGGER_MANAGER_DLQ_NAME = "dpc-trigger-manager-dlq"
EXPORT_DLQ_NAME = "dpc-export-dlq"
ROUTE_DLQ_NAME = "dpc-route-dlq"


def starter_dlq_name(pipeline: str) -> str:
    """The starter's and the pipeline's rules' queue (name kept from before issue 11: a
    rename would replace the retained queue and orphan what it holds)."""
    return f"{DLQ_PREFIX}{pipeline}-starts{DLQ_SUFFIX}"


def tracker_dlq_name(pipeline: str) -> str:
    return f"{DLQ_PREFIX}{pipeline}-tracker{DLQ_SUFFIX}"


def alarm_name(subject: str, what: str) -> str:
    """``dpc-<subject>-<what>``; a subject already starting with ``dpc-`` keeps one prefix."""
    subject = subject.removeprefix(ALARM_PREFIX)
    return f"{ALARM_PREFIX}{subject}-{what}"
