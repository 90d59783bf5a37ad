"""Requests and responses of API Gateway's Lambda proxy integration (REST API, IAM auth).

With IAM auth, API Gateway has verified the SigV4 signature before the Lambda runs and puts
the caller's account in ``requestContext.identity.accountId``: the only account a handler
may trust. Accounts named in a path or body are claims to check against it.

Bad input is an ``ApiError`` (400 and a one-line message), never an exception escaping the
handler: API Gateway answers those with a bare 502 that tells the caller nothing. The rules
are pipeline.yaml's, read from its schema (dpc.schemas) and dpc.naming rather than copied,
so an API never accepts a name or account that validate refuses: a pipeline name matches
the schema's pattern and fits the longest name dpc can deploy, an account is 12 digits.
Bodies are bounded (``MAX_BODY_BYTES``) before they are parsed.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dpc import naming
from dpc.schemas import account_pattern, pipeline_name_pattern, rule
from dpc.triggers.model import STATUSES, ParentRef, Status

MAX_BODY_BYTES = 64 * 1024
"""Every dpc request is far smaller (a registration with 97 parents is about 10 KB, a Slack
message at most ``MAX_SLACK_TEXT`` characters of mostly ASCII)."""
MAX_SLACK_TEXT = 40_000
"""Slack's own limit for a message's text."""
_EXECUTION_ARN = re.compile(r"arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[^:]+:[^:]+")


class ApiError(Exception):
    """A request the handler refuses: becomes a JSON error response with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ApiRequest:
    method: str
    caller_account: str
    path_parameters: Mapping[str, str]
    body: Mapping[str, Any]

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> ApiRequest:
        identity = (event.get("requestContext") or {}).get("identity") or {}
        account = identity.get("accountId")
        if not account:
            raise ApiError(403, "the request carries no caller account (IAM auth required)")
        raw = event.get("body") or ""
        if not isinstance(raw, str):
            raise ApiError(400, "the body is not JSON")
        if event.get("isBase64Encoded"):
            try:
                raw = base64.b64decode(raw, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise ApiError(400, "the body is not valid base64-encoded UTF-8") from None
        size = len(raw.encode())
        if size > MAX_BODY_BYTES:
            raise ApiError(400, f"the body is {size} bytes; at most {MAX_BODY_BYTES} allowed")
        try:
            body = json.loads(raw) if raw else {}
        except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
            raise ApiError(400, "the body is not JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "the body must be a JSON object")
        return cls(
            method=str(event.get("httpMethod", "")),
            caller_account=str(account),
            path_parameters=event.get("pathParameters") or {},
            body=body,
        )

    def text(self, field: str, max_length: int | None = None) -> str:
        value = self.body.get(field)
        if not isinstance(value, str) or not value:
            raise ApiError(400, f"body field {field!r} must be a non-empty string")
        if max_length is not None and len(value) > max_length:
            raise ApiError(400, f"{field}: at most {max_length} characters ({len(value)} given)")
        return value

    def path_pipeline(self) -> ParentRef:
        """The ``{account}/{name}`` of the path, by pipeline.yaml's rules."""
        account = account_id(self.path_parameters.get("account"), "path")
        return ParentRef(pipeline_name(self.path_parameters.get("name"), "path"), account)


def _show(value: str) -> str:
    return value if len(value) <= 64 else value[:20] + "…"


def pipeline_name(value: object, where: str) -> str:
    """``value`` if it is a name pipeline.yaml accepts and dpc can deploy, else a 400."""
    if not isinstance(value, str) or not value:
        raise ApiError(400, f"{where}: expected a pipeline name")
    longest = naming.longest_pipeline_name()
    if len(value) > longest:
        raise ApiError(
            400,
            f"{where}: '{_show(value)}' is {len(value)} characters; the longest pipeline name "
            f"is {longest}",
        )
    if not pipeline_name_pattern().fullmatch(value):
        raise ApiError(
            400,
            f"{where}: '{_show(value)}' is not a pipeline name (allowed: "
            f"{rule('properties', 'name')})",
        )
    return value


def account_id(value: object, where: str) -> str:
    if not isinstance(value, str) or not account_pattern().fullmatch(value):
        shown = _show(value) if isinstance(value, str) else json.dumps(value)[:20]
        raise ApiError(
            400,
            f"{where}: '{shown}' is not an account id (allowed: {rule('$defs', 'accountId')})",
        )
    return value


def execution_arn(value: str, where: str) -> str:
    if not _EXECUTION_ARN.fullmatch(value):
        raise ApiError(400, f"{where}: '{_show(value)}' is not a Step Functions execution ARN")
    return value


def run_status(value: object, where: str) -> Status:
    if value not in STATUSES:
        shown = _show(value) if isinstance(value, str) else json.dumps(value)[:20]
        raise ApiError(400, f"{where}: '{shown}' is not one of {', '.join(STATUSES)}")
    return value


def response(status: int, body: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }
