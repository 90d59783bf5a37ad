"""Reading synthesized templates the way CloudFormation will see them after deployment."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

ACCOUNT, REGION = "333333333333", "eu-west-1"
PSEUDO = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": "aws"}


def render(value: Any, pseudo: Mapping[str, str] = PSEUDO) -> Any:
    """Resolve the intrinsics the dpc templates use in strings: pseudo parameters become
    concrete values, other Refs/GetAtts/imports become ``<Name>`` placeholders."""
    if isinstance(value, list):
        return [render(v, pseudo) for v in value]
    if not isinstance(value, dict):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(str(render(p, pseudo)) for p in parts)
    if "Ref" in value:
        return pseudo.get(value["Ref"], f"<{value['Ref']}>")
    if "Fn::Sub" in value:
        return re.sub(r"\$\{([^}]+)\}", lambda m: pseudo.get(m[1], f"<{m[1]}>"), value["Fn::Sub"])
    if "Fn::ImportValue" in value:
        return f"<import:{value['Fn::ImportValue']}>"
    if "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    return {k: render(v, pseudo) for k, v in value.items()}


def resources(template: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def only(template: Mapping[str, Any], kind: str) -> dict[str, Any]:
    found = list(resources(template, kind).values())
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def state_machine_definition(template: Mapping[str, Any]) -> dict[str, Any]:
    machine = only(template, "AWS::StepFunctions::StateMachine")
    return json.loads(render(machine["Properties"]["DefinitionString"]))


def rule_named(template: Mapping[str, Any], name: str) -> dict[str, Any]:
    for rule in resources(template, "AWS::Events::Rule").values():
        if rule["Properties"].get("Name") == name:
            return rule["Properties"]
    raise AssertionError(f"no rule named {name}")


def policy_statements(template: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(logical id, statement) of every IAM statement in policies and inline role policies."""
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Policy":
            documents = [resource["Properties"]["PolicyDocument"]]
        elif resource["Type"] == "AWS::IAM::Role":
            documents = [p["PolicyDocument"] for p in resource["Properties"].get("Policies", [])]
        else:
            continue
        for document in documents:
            found += [(logical_id, s) for s in document["Statement"]]
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def templates_of(request: Any, fixtures: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The templates of session fixtures by a readable name; ``pipeline_templates`` (a dict
    of them) contributes one entry per pipeline."""
    found: dict[str, dict[str, Any]] = {}
    for fixture in fixtures:
        value = request.getfixturevalue(fixture)
        if fixture == "pipeline_templates":
            found.update({f"pipeline {name}": template for name, template in value.items()})
        else:
            found[fixture] = value
    return found
