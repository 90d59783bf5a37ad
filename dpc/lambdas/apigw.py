"""Requests and responses of API Gateway's Lambda proxy integration (REST API, IAM auth).

With IAM auth, API Gateway has verified the SigV4 signature before the Lambda runs and puts
the caller's account in ``requestContext.identity.accountId``: the only account a handler
may trust. Accounts named in a path or body are claims to check against it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


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
        if event.get("isBase64Encoded"):
            raw = base64.b64decode(raw).decode()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            raise ApiError(400, "the body is not JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "the body must be a JSON object")
        return cls(
            method=str(event.get("httpMethod", "")),
            caller_account=str(account),
            path_parameters=event.get("pathParameters") or {},
            body=body,
        )

    def text(self, field: str) -> str:
        value = self.body.get(field)
        if not isinstance(value, str) or not value:
            raise ApiError(400, f"body field {field!r} must be a non-empty string")
        return value


def response(status: int, body: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }
