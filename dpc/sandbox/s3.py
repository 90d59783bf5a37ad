"""S3 at the sandbox's endpoint: bucket policies that deny requests not made over TLS.

moto evaluates a bucket policy without its Condition blocks, so the TLS-only Deny every dpc
bucket carries (``aws:SecureTransport`` false) would deny every request. The endpoint
stands in for AWS's HTTPS endpoint, so it treats its requests as sent over TLS: such a
Deny never applies to them. PutBucketPolicy hands moto the policy without those
statements (or no policy, when nothing else is left); GetBucketPolicy answers the policy
as it was put, so a client reads back exactly what it wrote.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from dpc.sandbox.endpoint import Call, Endpoint, Response

_INSECURE_TRANSPORT = {"Bool": {"aws:SecureTransport": "false"}}


def denies_only_insecure_transport(statement: dict[str, Any]) -> bool:
    """A statement that, over TLS, never applies."""
    return statement.get("Effect") == "Deny" and statement.get("Condition") == _INSECURE_TRANSPORT


@dataclass
class BucketPolicies:
    _put: dict[str, bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, endpoint: Endpoint) -> None:
        endpoint.intercept("s3", "PutBucketPolicy", self._put_policy)
        endpoint.intercept("s3", "GetBucketPolicy", self._get_policy)
        endpoint.intercept("s3", "DeleteBucketPolicy", self._delete_policy)

    def _put_policy(self, call: Call) -> Response:
        try:
            policy = json.loads(call.body)
        except ValueError:
            return call.forward()  # moto answers a malformed policy as S3 does
        statements = policy.get("Statement", [])
        statements = [statements] if isinstance(statements, dict) else statements
        applying = [s for s in statements if not denies_only_insecure_transport(s)]
        if len(applying) == len(statements):
            return call.forward()
        answer = (
            call.forward(json.dumps({**policy, "Statement": applying}).encode())
            if applying
            else call.forward(b"", method="DELETE")
        )
        if answer.status < 300:
            with self._lock:
                self._put[_bucket(call)] = call.body
        return answer

    def _get_policy(self, call: Call) -> Response:
        answer = call.forward()
        with self._lock:
            put = self._put.get(_bucket(call))
        if put is None or (answer.status != 200 and b"NoSuchBucketPolicy" not in answer.body):
            return answer
        return Response(200, put, (("Content-Type", "application/json"),))

    def _delete_policy(self, call: Call) -> Response:
        with self._lock:
            self._put.pop(_bucket(call), None)
        return call.forward()


def _bucket(call: Call) -> str:
    return call.path.strip("/")
