"""SigV4-signed JSON calls to dpc's IAM-authorised API Gateway APIs, over plain HTTPS.

botocore signs (the same code every AWS SDK call uses); urllib sends, so Lambda code needs
no extra package. The caller's identity travels in the signature, which is why the APIs can
trust the caller's account without taking it from the request body.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

DEFAULT_TIMEOUT_SECONDS = 10.0


class SignedCallError(Exception):
    """The API answered with a non-2xx status (or could not be reached)."""


@dataclass(frozen=True)
class Response:
    status: int
    body: Any


def api_region(url: str, fallback: str | None) -> str:
    """``https://abc.execute-api.eu-west-1.amazonaws.com/v1`` → ``eu-west-1``: the API's own
    region signs the request, which may differ from the caller's."""
    host = urlsplit(url).hostname or ""
    parts = host.split(".")
    if len(parts) > 3 and parts[1] == "execute-api":
        return parts[2]
    if fallback is None:
        raise SignedCallError(f"cannot tell the region of {url}; set AWS_REGION")
    return fallback


def call(
    method: str,
    url: str,
    body: Mapping[str, Any] | None = None,
    *,
    session: boto3.Session | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> Response:
    """Send one signed JSON request; raise ``SignedCallError`` unless the API answered 2xx."""
    session = session or boto3.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise SignedCallError("no AWS credentials to sign the request with")
    data = json.dumps(body).encode() if body is not None else None
    request = AWSRequest(
        method=method, url=url, data=data, headers={"Content-Type": "application/json"}
    )
    region = api_region(url, session.region_name)
    SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
    prepared = urllib.request.Request(
        url, data=data, method=method, headers=dict(request.headers.items())
    )
    try:
        with urllib.request.urlopen(prepared, timeout=timeout) as reply:
            return Response(reply.status, _json(reply.read()))
    except urllib.error.HTTPError as error:
        raise SignedCallError(
            f"{method} {url} answered {error.code}: {_json(error.read())}"
        ) from None
    except (urllib.error.URLError, TimeoutError) as error:
        raise SignedCallError(f"{method} {url} failed: {error}") from None


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")
