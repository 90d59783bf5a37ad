"""The sandbox's AWS endpoint: moto's WSGI application behind one interception layer.

Every AWS API request to the sandbox, from any client (boto3, the AWS CLI, `dpc` in
another shell, a handler the sandbox runs), passes through ``Endpoint``. It names the
request's service (the SigV4 credential scope), its operation (``X-Amz-Target``, the
query protocol's ``Action``, or for the REST protocols of S3 and Lambda the few
operations the sandbox answers) and the caller's access key, and hands it to the
interception registered for that operation, if any; everything else reaches moto
unchanged. An interception answers itself or forwards a request of its own making.

That is the whole contract between the sandbox and moto: the sandbox never replaces a
method of a moto class and reads no private moto state, so moto can float within its
major version.
"""

from __future__ import annotations

import io
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode
from xml.sax.saxutils import escape

CLOUDFORMATION_XMLNS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
_CREDENTIAL = re.compile(r"Credential=([^/]+)/[^/]+/([^/]+)/([^/]+)/")
_LAMBDA_INVOKE = re.compile(r"/2015-03-31/functions/([^/]+)/invocations")


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "text/xml"),)

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass
class Call:
    """One AWS API request as the endpoint saw it."""

    environ: dict[str, Any]
    body: bytes
    service: str
    operation: str
    access_key: str
    region: str
    forward_to: Callable[[dict[str, Any]], Response]

    def json(self) -> Any:
        """The JSON protocols' parameters (EventBridge, Step Functions, DynamoDB…)."""
        return json.loads(self.body or b"{}")

    @property
    def form(self) -> dict[str, str]:
        """The query protocol's parameters (CloudFormation, SNS, IAM…)."""
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.environ.get("QUERY_STRING", ""), keep_blank_values=True))

    @property
    def path(self) -> str:
        return str(self.environ.get("PATH_INFO", ""))

    def header(self, name: str) -> str:
        return str(self.environ.get("HTTP_" + name.upper().replace("-", "_"), ""))

    def forward(self, body: bytes | None = None, method: str | None = None) -> Response:
        """This request (or it with ``body`` or ``method`` instead) as moto answers it."""
        environ = dict(self.environ)
        environ["REQUEST_METHOD"] = method or environ["REQUEST_METHOD"]
        data = self.body if body is None else body
        environ["wsgi.input"] = io.BytesIO(data)
        environ["CONTENT_LENGTH"] = str(len(data))
        return self.forward_to(environ)

    def forward_form(self, form: dict[str, str]) -> Response:
        return self.forward(urlencode(form).encode())


Interception = Callable[[Call], Response]
ANY_OPERATION = "*"
"""Registered for a service's every operation not intercepted by name (chaos faults that
any request of that service may meet)."""


@dataclass
class Endpoint:
    """WSGI middleware: interceptions by (service, operation), moto for the rest."""

    app: Callable[..., Iterable[bytes]]
    interceptions: dict[tuple[str, str], Interception] = field(default_factory=dict)

    def intercept(self, service: str, operation: str, interception: Interception) -> None:
        """``service`` as the SigV4 scope names it (``cloudformation``, ``events``,
        ``states``, ``lambda``, ``s3``…); ``operation`` as the API reference does, or
        ``ANY_OPERATION``."""
        self.interceptions[(service, operation)] = interception

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        scope = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        interception = None
        if scope is not None:
            access_key, region, service = scope.groups()
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            operation = _operation(service, environ, body)
            interception = self.interceptions.get(
                (service, operation), self.interceptions.get((service, ANY_OPERATION))
            )
        if interception is None:
            return self.app(environ, start_response)
        call = Call(environ, body, service, operation, access_key, region, self._forward)
        response = interception(call)
        start_response(f"{response.status} {_REASONS.get(response.status, '')}", response.headers)
        return [response.body]

    def _forward(self, environ: dict[str, Any]) -> Response:
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
            captured["status"], captured["headers"] = int(status.split()[0]), headers

        chunks = self.app(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        headers = tuple(
            (k, v) for k, v in captured["headers"] if k.lower() not in ("content-length",)
        )
        return Response(captured["status"], body, headers)


_REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 403: "Forbidden", 404: "Not Found"}


def _operation(service: str, environ: dict[str, Any], body: bytes) -> str:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return str(target.rsplit(".", 1)[-1])
    method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
    query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    if service == "s3":
        if "policy" in query and path.strip("/").count("/") == 0:
            names = {"PUT": "PutBucketPolicy", "GET": "GetBucketPolicy"}
            return names.get(method, "DeleteBucketPolicy" if method == "DELETE" else "")
        return ""
    if service == "lambda":
        return "Invoke" if method == "POST" and _LAMBDA_INVOKE.fullmatch(path) else ""
    action = query.get("Action")
    if action is None and body and "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        action = dict(parse_qsl(body.decode(), keep_blank_values=True)).get("Action")
    return action or ""


def lambda_function_of(call: Call) -> str:
    """The FunctionName of a Lambda ``Invoke`` (a name, or an ARN)."""
    found = _LAMBDA_INVOKE.fullmatch(call.path)
    assert found is not None
    from urllib.parse import unquote

    return unquote(found.group(1))


def query_response(operation: str, result: str = "", xmlns: str = CLOUDFORMATION_XMLNS) -> Response:
    """A query-protocol answer: ``result`` is the XML inside ``<{operation}Result>``."""
    body = (
        f'<{operation}Response xmlns="{xmlns}"><{operation}Result>{result}</{operation}Result>'
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        f"</{operation}Response>"
    )
    return Response(200, body.encode())


def query_error(code: str, message: str, status: int = 400) -> Response:
    body = (
        f'<ErrorResponse xmlns="{CLOUDFORMATION_XMLNS}"><Error><Type>Sender</Type>'
        f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return Response(status, body.encode())


def json_response(payload: Any, status: int = 200, **headers: str) -> Response:
    extra = tuple((k.replace("_", "-"), v) for k, v in headers.items())
    return Response(
        status, json.dumps(payload).encode(), (("Content-Type", "application/json"), *extra)
    )


def json_error(code: str, message: str, status: int = 400) -> Response:
    """The JSON protocols' error (EventBridge, Step Functions, DynamoDB, Lambda)."""
    return Response(
        status,
        json.dumps({"__type": code, "message": message}).encode(),
        (("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)),
    )


def xml(text: object) -> str:
    return escape(str(text))


class Serving:
    """``endpoint`` served over HTTP on 127.0.0.1 by werkzeug, one thread per request, as
    moto's own server serves it (with moto's request handler, which keeps the original
    spelling of S3 metadata headers)."""

    def __init__(self, endpoint: Endpoint, port: int) -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from werkzeug.serving import make_server

        self._server = make_server(
            "127.0.0.1", port, endpoint, threaded=True, request_handler=MotoRequestHandler
        )
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
