"""The schema editors use is a valid 2020-12 schema, and the defaults it documents are the
ones the loader applies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from dpc.spec.loader import load_pipeline
from dpc.spec.schema import pipeline_schema


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(pipeline_schema())


def test_every_field_has_a_description() -> None:
    schema = pipeline_schema()

    def walk(node: dict[str, Any], path: str) -> list[str]:
        missing = []
        for name, field in node.get("properties", {}).items():
            if "description" not in field and "$ref" not in field:
                missing.append(f"{path}{name}")
            missing += walk(field, f"{path}{name}.")
        return missing

    undocumented = walk(schema, "")
    for name, definition in schema["$defs"].items():
        undocumented += walk(definition, f"$defs.{name}.")
    assert undocumented == []


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
