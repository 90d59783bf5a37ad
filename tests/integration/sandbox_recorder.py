"""A Lambda handler for the sandbox tests: records each event, with the account it ran as."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3


def handler(event: Any, context: Any) -> dict[str, str]:
    account = boto3.client("sts").get_caller_identity()["Account"]
    record = {"event": event, "ran_as": account, "function": context.function_name}
    with open(os.environ["RECORD_FILE"], "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")
    return {"ok": "yes"}


def failing_handler(event: Any, context: Any) -> None:
    """Records the attempt, then fails as a handler with a bug would."""
    handler(event, context)
    raise RuntimeError("the downstream database is unreachable")
