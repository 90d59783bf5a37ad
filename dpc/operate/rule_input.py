"""The input an EventBridge rule hands its target for an event, as the rule computes it from
the target's ``Input`` (a constant), ``InputPath`` (a part of the event) or
``InputTransformer`` (a template filled from paths into the event) — so ``dpc redrive`` can
deliver a dead-lettered event exactly as the rule would have.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.$-]+)>")


class RuleInputError(ValueError):
    """The target's input refers to a part of the event that is not there."""


def json_path(document: Any, path: str) -> Any:
    """The JSONPath subset EventBridge paths use: ``$``, ``$.a.b``, ``$.a[0]``."""
    value = document
    for key, index in _PATH_PART.findall(path.removeprefix("$")):
        if key:
            if not isinstance(value, dict) or key not in value:
                raise RuleInputError(f"the event has no {path}")
            value = value[key]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                raise RuleInputError(f"the event has no {path}")
            value = value[int(index)]
    return value


def render_template(template: str, values: Mapping[str, Any]) -> str:
    """An InputTemplate with ``<name>`` replaced by the JSON value, or inside a JSON string by
    the string itself (EventBridge's rule for string values in quotes)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        value = values[name]
        inside_string = template[: match.start()].count('"') % 2 == 1
        if inside_string and isinstance(value, str):
            return json.dumps(value)[1:-1]
        return json.dumps(value)

    return _PLACEHOLDER.sub(replace, template)


def target_input(target: Mapping[str, Any], event: Mapping[str, Any], rule_arn: str = "") -> str:
    """What the rule sends ``target`` (a ListTargetsByRule entry) for ``event``."""
    if "Input" in target:
        return str(target["Input"])
    if "InputPath" in target:
        return json.dumps(json_path(event, str(target["InputPath"])))
    transformer = target.get("InputTransformer")
    if transformer:
        values: dict[str, Any] = {
            name: json_path(event, path)
            for name, path in transformer.get("InputPathsMap", {}).items()
        }
        values.setdefault("aws.events.event.json", event)
        values.setdefault("aws.events.rule-arn", rule_arn)
        values.setdefault("aws.events.rule-name", rule_arn.rsplit("/", 1)[-1])
        return render_template(str(transformer["InputTemplate"]), values)
    return json.dumps(event)
