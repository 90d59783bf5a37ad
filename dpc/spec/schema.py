"""The JSON Schema of pipeline.yaml and its errors, turned into findings a person can act on.

jsonschema's own messages quote Python reprs ("'x' is not one of [...]"); ours say what is
wrong and what is allowed, and point at the key or value in the file.
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from dpc import schemas
from dpc.spec.errors import Finding
from dpc.spec.source import Document, JsonPath

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing",
}


def schema_path() -> Path:
    """The installed schema file, for the ``# yaml-language-server: $schema=`` line."""
    return Path(str(resources.files("dpc.schemas").joinpath("pipeline.schema.json")))


def schema_text() -> str:
    return schemas.schema_text()


def pipeline_schema() -> dict[str, Any]:
    return schemas.pipeline_schema()


@cache
def _validator() -> Any:
    """Built once per process: checking 1,000 pipelines must not compile the schema 1,000 times."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(pipeline_schema())


def schema_findings(document: Document) -> list[Finding]:
    findings: dict[tuple[JsonPath, str, bool], None] = {}
    for error in _validator().iter_errors(document.data):
        path: JsonPath = tuple(error.absolute_path)
        for sub_path, message, at_key in _explain(error, path):
            findings.setdefault((sub_path, message, at_key), None)
    return [document.finding(path, message, at_key=at_key) for path, message, at_key in findings]


def _explain(error: Any, path: JsonPath) -> list[tuple[JsonPath, str, bool]]:
    """One or more (path, message, point-at-key) for a jsonschema error."""
    keyword, expected, value, schema = (
        error.validator,
        error.validator_value,
        error.instance,
        error.schema,
    )
    if keyword == "additionalProperties" and isinstance(value, dict):
        allowed = sorted(schema.get("properties", {}))
        return [
            (
                (*path, key),
                f"unknown field{_did_you_mean(key, allowed)} (allowed here: {', '.join(allowed)})",
                True,
            )
            for key in value
            if key not in allowed
        ]
    if keyword == "required" and isinstance(value, dict):
        return [((*path, key), "missing (required)", False) for key in expected if key not in value]
    return [(path, _message(keyword, expected, value, schema), False)]


def _message(keyword: str, expected: Any, value: Any, schema: dict[str, Any]) -> str:
    if keyword == "type":
        return _type_message(expected, value, schema)
    if keyword == "enum":
        allowed = [str(option) for option in expected]
        hint = _did_you_mean(str(value), allowed) if isinstance(value, str) else ""
        return f"{_show(value)} is not allowed{hint} (allowed: {', '.join(allowed)})"
    if keyword == "pattern":
        rule = schema.get("x-rule", f"text matching {expected}")
        return f"{_show(value)} is not valid (allowed: {rule})"
    if keyword == "minItems":
        return "must not be empty" if expected == 1 else f"needs at least {expected} entries"
    if keyword == "maxItems":
        return f"has {len(value)} entries; at most {expected} allowed"
    if keyword == "minLength":
        return "must not be empty"
    if keyword == "maxLength":
        return f"is {len(value)} characters long; at most {expected} allowed"
    if keyword == "minimum":
        return f"{_show(value)} is too small (minimum {expected})"
    if keyword == "maximum":
        return f"{_show(value)} is too large (maximum {expected})"
    if keyword == "minProperties":
        options = ", ".join(sorted(schema.get("properties", {})))
        return f"must not be empty (give at least one of: {options})"
    if keyword == "uniqueItems":
        return "lists the same value more than once"
    if keyword == "propertyNames":
        return "keys must be 1 to 128 characters long"
    return f"{_show(value)} is not valid ({keyword}: {_show(expected)})"


def _type_message(expected: str | list[str], value: Any, schema: dict[str, Any]) -> str:
    types = [expected] if isinstance(expected, str) else expected
    wanted = " or ".join(_TYPE_NAMES.get(name, name) for name in types)
    got = _kind(value)
    if "string" in types and isinstance(value, int | float) and not isinstance(value, bool):
        return f'expected {wanted}, got the number {value}; put it in quotes: "{value}"'
    examples = schema.get("examples")
    hint = f" (for example: {_show(examples[0])})" if examples else ""
    return f"expected {wanted}, got {got}{hint}"


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f"the text {_show(value)}"


def _show(value: Any) -> str:
    """Values as the user would write them in YAML (flow style), not as Python reprs."""
    if isinstance(value, str):
        return f"'{value}'"
    return json.dumps(value, ensure_ascii=False, default=str)


def _did_you_mean(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1)
    if not close:
        close = [option for option in options if option.lower() == word.lower()]
    return f"; did you mean '{close[0]}'?" if close else ""
