"""docs/pipeline-yaml.md, generated from the JSON Schema so the two can never disagree.

Regenerate with ``python -m dpc.spec.reference``; a test fails when the file is stale.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dpc.spec.schema import pipeline_schema

DOC_PATH = Path("docs") / "pipeline-yaml.md"

_TYPES = {
    "object": "mapping",
    "array": "list",
    "string": "text",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
}


def render_reference(schema: dict[str, Any] | None = None) -> str:
    schema = schema or pipeline_schema()
    lines = [
        "# pipeline.yaml reference",
        "",
        "<!-- Generated from dpc/schemas/pipeline.schema.json by `python -m dpc.spec.reference`."
        " Do not edit by hand. -->",
        "",
        schema["description"],
        "",
        "Put `# yaml-language-server: $schema=<path>` as the first line (`dpc schema --path`"
        " prints the path) and editors complete and check every field below.",
        "`dpc validate` checks the same rules and more: cron ranges, scripts that exist,"
        " duplicate step names, self-dependencies, and across a folder of projects unknown"
        " parents and dependency cycles.",
        "",
        "| Field | Type | Required | Description |",
        "|---|---|---|---|",
    ]
    for path, field, required in _fields(schema, schema, "", set(schema.get("required", []))):
        lines.append(
            f"| `{path}` | {_type(schema, field)} | {'yes' if required else ''} | "
            f"{_describe(field)} |"
        )
    lines += ["", "## Examples", ""]
    for name, field in schema["properties"].items():
        for example in _resolve(schema, field).get("examples", []):
            if isinstance(example, dict | list):
                lines += [f"`{name}`:", "", "```yaml", _yaml({name: example}), "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def _resolve(root: dict[str, Any], field: dict[str, Any]) -> dict[str, Any]:
    """A field with its ``$ref`` target merged in (the field's own keywords win)."""
    if "$ref" not in field:
        return field
    target = root
    for part in field["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    return {**_resolve(root, target), **{k: v for k, v in field.items() if k != "$ref"}}


def _fields(
    root: dict[str, Any], node: dict[str, Any], prefix: str, required: set[str]
) -> Iterator[tuple[str, dict[str, Any], bool]]:
    for name, raw in node.get("properties", {}).items():
        field = _resolve(root, raw)
        path = f"{prefix}{name}"
        yield path, field, name in required
        yield from _children(root, field, path)


def _children(
    root: dict[str, Any], field: dict[str, Any], path: str
) -> Iterator[tuple[str, dict[str, Any], bool]]:
    if "properties" in field:
        yield from _fields(root, field, f"{path}.", set(field.get("required", [])))
    elif isinstance(field.get("additionalProperties"), dict):
        value = _resolve(root, field["additionalProperties"])
        yield f"{path}.<key>", value, False
    if field.get("type") == "array" and "items" in field:
        items = _resolve(root, field["items"])
        if "properties" in items:
            yield from _fields(root, items, f"{path}[].", set(items.get("required", [])))


def _type(root: dict[str, Any], field: dict[str, Any]) -> str:
    if "enum" in field:
        return "one of " + ", ".join(f"`{value}`" for value in field["enum"])
    kinds = field.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else kinds
    text = " or ".join(_TYPES.get(kind, kind) for kind in kinds)
    if "array" in kinds and "items" in field:
        items = _resolve(root, field["items"])
        if "enum" in items:
            text += " of " + ", ".join(f"`{value}`" for value in items["enum"])
        elif "properties" in items:
            text += " of mappings"
        else:
            text += " of " + _type(root, items)
    return text


def _describe(field: dict[str, Any]) -> str:
    parts = [field.get("description", "")]
    if "x-rule" in field:
        parts.append(f"Allowed: {field['x-rule']}.")
    if "default" in field:
        parts.append(f"Default: `{_inline(field['default'])}`.")
    scalar_examples = [e for e in field.get("examples", []) if not isinstance(e, dict | list)]
    if scalar_examples and "enum" not in field:
        parts.append("Example: " + ", ".join(f"`{_inline(e)}`" for e in scalar_examples) + ".")
    return " ".join(part for part in parts if part).replace("|", "\\|")


def _inline(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value).replace('"', "")


def _yaml(value: Any) -> str:
    import yaml

    return str(yaml.safe_dump(value, sort_keys=False, default_flow_style=None, width=90)).rstrip()


def main(argv: list[str] | None = None) -> int:
    """Write the reference (default docs/pipeline-yaml.md, relative to the current folder)."""
    target = Path((argv if argv is not None else sys.argv[1:] or [str(DOC_PATH)])[0])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_reference(), "utf-8")
    print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
