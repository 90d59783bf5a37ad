"""Names dpc derives from a pipeline's and its steps' names, for AWS resources and CDK
constructs: one place, used by the stacks (dpc.infra) and by validate (dpc.spec.limits)."""

from __future__ import annotations

from dpc.constants import STATE_MACHINE_PREFIX


def schedule_rule_name(pipeline: str) -> str:
    return f"{STATE_MACHINE_PREFIX}{pipeline}-schedule"


def trigger_rule_name(pipeline: str) -> str:
    return f"{STATE_MACHINE_PREFIX}{pipeline}-trigger"


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
