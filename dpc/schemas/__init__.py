"""The JSON Schema of pipeline.yaml (the single source of truth for the YAML), and the rules
other parts of dpc read from it rather than copy: validate checks a file with the whole
schema (dpc.spec.schema); the central APIs check the names and accounts they are sent with
the same patterns (dpc.lambdas.apigw), so an API never accepts a name pipeline.yaml refuses.

This package ships in the Lambda asset (dpc.infra.lambda_code); it imports nothing heavy.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

SCHEMA_FILE = "pipeline.schema.json"


def schema_text() -> str:
    return resources.files(__name__).joinpath(SCHEMA_FILE).read_text("utf-8")


@cache
def pipeline_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_text())
    return loaded


@cache
def pipeline_name_pattern() -> re.Pattern[str]:
    """A pipeline's ``name`` (and a parent's): use with ``fullmatch``."""
    return re.compile(str(pipeline_schema()["properties"]["name"]["pattern"]))


@cache
def account_pattern() -> re.Pattern[str]:
    """A 12-digit account id (``$defs.accountId``): use with ``fullmatch``."""
    return re.compile(str(pipeline_schema()["$defs"]["accountId"]["pattern"]))


def rule(*path: str) -> str:
    """The ``x-rule`` text (what is allowed, for people) of the schema node at ``path``."""
    node: Any = pipeline_schema()
    for key in path:
        node = node[key]
    return str(node["x-rule"])
