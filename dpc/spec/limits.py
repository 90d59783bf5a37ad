"""What AWS allows of the names dpc derives from a pipeline: checked by validate, so a file
validate accepts is one synth builds (issue: "what validate accepts, synth builds").

The derived names come from dpc.naming, the same functions the infrastructure uses, so the
check and the stacks cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dpc import naming
from dpc.spec.errors import Finding
from dpc.spec.source import Document

RULE_NAME_LIMIT = naming.RULE_NAME_LIMIT
STATE_NAME_LIMIT = 80
"""Step Functions state names: at most 80 characters."""


def _longest_name() -> int:
    """The longest pipeline name whose derived names all fit."""
    return naming.longest_pipeline_name()


def limit_findings(document: Document, data: dict[str, Any]) -> Iterator[Finding]:
    name = data.get("name")
    longest = _longest_name()
    if isinstance(name, str) and len(name) > longest:
        rule = naming.schedule_rule_name(name)
        yield document.finding(
            ("name",),
            f"'{name}' is {len(name)} characters; the longest name dpc can deploy is {longest} "
            f"(its EventBridge rule {rule} would be {len(rule)}, over AWS's {RULE_NAME_LIMIT})",
        )
    steps = data.get("steps")
    if not isinstance(steps, list):
        return
    seen: dict[str, tuple[int, str]] = {}
    for index, step in enumerate(steps):
        step_name = step.get("name") if isinstance(step, dict) else None
        if not isinstance(step_name, str):
            continue
        state = naming.step_state_name(step_name)
        if len(state) > STATE_NAME_LIMIT:
            yield document.finding(
                ("steps", index, "name"),
                f"'{step_name[:20]}…' is {len(step_name)} characters; a step name may have at "
                f"most {STATE_NAME_LIMIT - len(naming.step_state_name(''))} (its Step Functions "
                f"state '{naming.step_state_name('…')}' is limited to {STATE_NAME_LIMIT})",
            )
        # Compared without case: ids that differ only in case are legal in CDK but confusing
        # in every console that lists them.
        construct = naming.step_construct_id(step_name).lower()
        if construct in seen and seen[construct][1] != step_name:
            first_index, first_name = seen[construct]
            line = document.position(("steps", first_index, "name")).line
            yield document.finding(
                ("steps", index, "name"),
                f"'{step_name}' and '{first_name}' (line {line}) differ only in '-', '_' or "
                "case where dpc names their resources; rename one",
            )
        seen.setdefault(construct, (index, step_name))
