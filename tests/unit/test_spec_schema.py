"""The schema editors use is a valid 2020-12 schema, and the defaults it documents are the
ones the loader applies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from dpc.spec.checks import MAX_TIMEOUT, MAX_WITHIN
from dpc.spec.loader import load_pipeline
from dpc.spec.schema import pipeline_schema
from dpc.triggers.cron import RATE_LIMITS


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(pipeline_schema())


def _resolved(schema: dict[str, Any], field: dict[str, Any]) -> dict[str, Any]:
    """A field with what its ``$ref`` brings (the field's own keys win), as editors show it."""
    if "$ref" not in field:
        return field
    target: Any = schema
    for part in field["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    return {**_resolved(schema, target), **field}


def _fields(node: Any, path: str) -> list[tuple[str, dict[str, Any]]]:
    """Every property and every map value schema, wherever it sits: under properties, items,
    additionalProperties or $defs, at any depth."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for key, child in node.items():
            if key == "properties" and isinstance(child, dict):
                found += [(f"{path}properties.{name}", field) for name, field in child.items()]
            if key == "additionalProperties" and isinstance(child, dict):
                found.append((f"{path}additionalProperties", child))
            found += _fields(child, f"{path}{key}.")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _fields(child, f"{path}{index}.")
    return found


def test_the_field_walk_reaches_fields_inside_items_and_defs() -> None:
    paths = [path for path, _ in _fields(pipeline_schema(), "")]
    assert "properties.notifications.properties.targets" in paths
    assert "$defs.notificationTarget.properties.channel" in paths
    assert "properties.tags.additionalProperties" in paths
    assert "$defs.executions.properties.operator" in paths


@pytest.mark.parametrize("keyword", ["description", "examples"])
def test_every_field_has_a_description_and_examples(keyword: str) -> None:
    # Issue 2: editors show both on hover and completion, and docs/pipeline-yaml.md prints both
    schema = pipeline_schema()
    lacking = [
        path for path, field in _fields(schema, "") if not _resolved(schema, field).get(keyword)
    ]
    assert lacking == []


def test_documented_defaults_are_applied(tmp_path: Path) -> None:
    (tmp_path / "run.sh").write_text("echo\n")
    (tmp_path / "pipeline.yaml").write_text(
        "name: p\n"
        "trigger: {executions: {allOf: [{name: parent}]}}\n"
        "steps: [{name: s, type: shell, script: run.sh}]\n"
        "notifications: {targets: [{channel: SLACK, addresses: [alerts]}]}\n"
    )
    pipeline = load_pipeline(tmp_path)
    schema = pipeline_schema()
    cluster = schema["properties"]["cluster"]["properties"]
    assert pipeline.cluster.release == cluster["release"]["default"]
    assert pipeline.cluster.master.instance_type == cluster["master"]["default"]["instanceType"]
    assert pipeline.cluster.master.count == cluster["master"]["default"]["count"]
    assert pipeline.cluster.core.count == cluster["core"]["default"]["count"]
    notifications = schema["properties"]["notifications"]["properties"]
    assert pipeline.notifications is not None
    assert pipeline.notifications.type == notifications["type"]["default"]
    executions = schema["$defs"]["executions"]["properties"]
    assert pipeline.trigger.executions is not None
    assert pipeline.trigger.executions.operator == executions["operator"]["default"]
    (item,) = pipeline.trigger.executions.all_of
    assert schema["$defs"]["parent"]["properties"]["status"]["default"] == ["SUCCESS"]
    assert item.statuses == {"SUCCEEDED"}


def test_the_schema_states_the_bounds_the_validator_enforces() -> None:
    schema = pipeline_schema()
    timeout = schema["properties"]["timeout"]["description"]
    within = schema["$defs"]["executions"]["properties"]["within"]["description"]
    rate = schema["$defs"]["schedule"]["properties"]["rate"]["description"]
    assert f"At most {MAX_TIMEOUT.days}d" in timeout
    assert f"At most {MAX_WITHIN.days}d" in within
    assert all(f"{limit} {unit}s" in rate for unit, limit in RATE_LIMITS.items())
