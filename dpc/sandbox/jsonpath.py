"""The JSONPath subset EventBridge input paths and Step Functions paths use.

Its own module so the state machines and the EventBridge emulation
(``services.buses``) both import it, and neither imports the other."""

from __future__ import annotations

import re
from typing import Any


def json_path(document: Any, path: str) -> Any:
    """The JSONPath subset EventBridge and Step Functions paths use: ``$.a.b[0]``."""
    if path in ("$", ""):
        return document
    value = document
    for key, index in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path.removeprefix("$")):
        if key:
            if not isinstance(value, dict) or key not in value:
                raise KeyError(f"path {path} not found")
            value = value[key]
        else:
            value = value[int(index)]
    return value
