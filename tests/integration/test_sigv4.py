"""SigV4-signed calls to dpc's APIs, against a local HTTP server that records what arrives."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from dpc.lambdas import sigv4


@pytest.fixture
def api() -> Iterator[dict[str, Any]]:
    """A stand-in API: answers 200 with the body it got, or 404 on /missing."""
    seen: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            seen.update(
                method=self.command,
                path=self.path,
                headers=dict(self.headers),
                body=self.rfile.read(length),
            )
            status = 404 if self.path.endswith("/missing") else 200
            payload = json.dumps({"message": "not here"} if status == 404 else {"ok": True})
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload.encode())

        do_PUT = do_POST = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    seen["url"] = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield seen
    server.shutdown()
    server.server_close()


def session() -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key="secret",
        region_name="eu-central-1",
    )


def test_request_is_signed_for_execute_api_and_carries_the_json_body(api: dict[str, Any]) -> None:
    reply = sigv4.call("POST", f"{api['url']}/messages", {"text": "hi"}, session=session())
    assert reply == sigv4.Response(200, {"ok": True})
    authorization = api["headers"]["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/")
    assert "/eu-central-1/execute-api/aws4_request" in authorization
    assert json.loads(api["body"]) == {"text": "hi"}
    assert api["method"] == "POST" and api["path"] == "/v1/messages"


def test_an_error_answer_raises_with_status_and_message(api: dict[str, Any]) -> None:
    with pytest.raises(
        sigv4.SignedCallError, match=re.escape("answered 404: {'message': 'not here'}")
    ):
        sigv4.call("DELETE", f"{api['url']}/missing", session=session())


def test_the_apis_own_region_signs_the_request() -> None:
    url = "https://abc123.execute-api.us-east-2.amazonaws.com/v1/messages"
    assert sigv4.api_region(url, fallback="eu-west-1") == "us-east-2"
    assert sigv4.api_region("http://127.0.0.1:8080/v1", fallback="eu-west-1") == "eu-west-1"
