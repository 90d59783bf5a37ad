"""The composition root's boto3 clients: one place that honours ``AWS_ENDPOINT_URL``.

Handlers take clients as arguments (``client=None``) and build them here only when none is
given, so tests and the sandbox inject clients pointed at moto.
"""

from __future__ import annotations

import os
from typing import Any

from botocore.config import Config

RETRIES = Config(retries={"mode": "standard", "max_attempts": 5})
"""Throttling and transient errors are retried by botocore before a handler sees them."""


def client(service: str, endpoint_url: str | None = None, region: str | None = None) -> Any:
    import boto3

    # A session of its own: boto3's default session resolves credentials once per process,
    # and a process that runs several accounts' handlers (the sandbox) must see each one's.
    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None,
        region_name=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        config=RETRIES,
    )
