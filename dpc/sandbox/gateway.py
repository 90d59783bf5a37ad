"""The sandbox's HTTP side: dpc's REST APIs and CloudFormation's response URLs.

moto cannot deploy a REST API with its deployment (DESIGN §8), and nothing in moto serves
an IAM-authorised API Gateway route to a Lambda. The sandbox serves each REST API of a
deployed template on a local port instead: routes, their Lambda proxy integrations and
the API's resource policy are read from the deployed template; the caller's account comes
from the SigV4 ``Authorization`` header's access key (the sandbox issued those keys, one
per account), as API Gateway takes it from the verified signature. The signature itself is
not verified.

The same server takes the PUT a custom-resource handler sends to its ``ResponseURL``, and
plays Slack's Web API (``chat.postMessage``) so Slack alerts land in the outbox.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from dpc.sandbox import policies
from dpc.sandbox.templates import DeployedStack


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    """As API Gateway writes it: ``/pipelines/{account}/{name}``."""
    function_arn: str

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method and self.method != "ANY":
            return None
        pattern = re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        found = re.fullmatch(pattern, path)
        return found.groupdict() if found else None


@dataclass(frozen=True)
class RestApi:
    account: str
    name: str
    stage: str
    routes: tuple[Route, ...]
    policy: tuple[dict[str, Any], ...]


def rest_apis(stack: DeployedStack, resources: dict[str, Any] | None = None) -> list[RestApi]:
    """The REST APIs a deployed template declares, with Lambda proxy routes; ``resources``
    may add those the sandbox kept aside before deploying (moto cannot deploy them)."""
    resources = resources if resources is not None else stack.resources
    apis = []
    for api_id, api in resources.items():
        if api.get("Type") != "AWS::ApiGateway::RestApi":
            continue
        props = stack.resolve(api.get("Properties", {}))
        paths = _resource_paths(resources, api_id)
        routes = []
        for method in resources.values():
            if method.get("Type") != "AWS::ApiGateway::Method":
                continue
            raw = method.get("Properties", {})
            if raw.get("RestApiId") != {"Ref": api_id}:
                continue
            path = paths.get(json.dumps(raw.get("ResourceId"), sort_keys=True))
            uri = str(stack.resolve(raw.get("Integration", {}).get("Uri", "")))
            function = re.search(r"functions/(arn:[^/]+)/invocations", uri)
            if path is not None and function:
                routes.append(Route(raw["HttpMethod"], path, function.group(1)))
        stages = [
            r.get("Properties", {}).get("StageName")
            for r in resources.values()
            if r.get("Type") in ("AWS::ApiGateway::Stage", "AWS::ApiGateway::Deployment")
            and r.get("Properties", {}).get("StageName")
        ]
        policy = props.get("Policy") or {}
        apis.append(
            RestApi(
                stack.account,
                str(props.get("Name", api_id)),
                stages[0] if stages else "v1",
                tuple(routes),
                tuple(policy.get("Statement", [])),
            )
        )
    return apis


def _resource_paths(resources: dict[str, Any], api_id: str) -> dict[str, str]:
    """JSON of a ``ResourceId`` reference → the resource's full path."""
    root = {"Fn::GetAtt": [api_id, "RootResourceId"]}
    paths = {json.dumps(root, sort_keys=True): "/"}

    def path_of(logical_id: str) -> str:
        props = resources[logical_id]["Properties"]
        parent = props["ParentId"]
        prefix = "" if parent == root else path_of(parent["Ref"])
        return f"{prefix}/{props['PathPart']}"

    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::ApiGateway::Resource" and props.get("RestApiId") == {
            "Ref": api_id
        }:
            paths[json.dumps({"Ref": logical_id}, sort_keys=True)] = path_of(logical_id)
    return paths


@dataclass
class Gateway:
    """A local HTTP server: ``/restapis/<account>/<api name>/<stage>/…`` and ``/cfn/<id>``."""

    account_of_key: Callable[[str], str | None]
    invoke: Callable[[str, Any], Any]
    organization_of: Callable[[str], str | None]
    slack: Callable[[dict[str, Any], str], dict[str, Any]] | None = None
    """Answers the fake Slack Web API's ``chat.postMessage`` (body, bearer token)."""
    apis: dict[tuple[str, str], RestApi] = field(default_factory=dict)
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None
    endpoint: str = ""

    def start(self) -> None:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                status, payload = gateway.handle(self.command, self.path, dict(self.headers), body)
                data = payload.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _serve

            def log_message(self, *args: Any) -> None:
                """Silent: the timeline is the sandbox's output."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def register(self, api: RestApi) -> str:
        """Serve ``api``; returns its base URL (what ``api.url`` is on AWS)."""
        self.apis[(api.account, api.name)] = api
        return self.url(api)

    def url(self, api: RestApi) -> str:
        return self.url_of(api.account, api.name, api.stage)

    def url_of(self, account: str, name: str, stage: str) -> str:
        return f"{self.endpoint}/restapis/{account}/{name}/{stage}/"

    @property
    def slack_url(self) -> str:
        """The base of the fake Slack Web API (what ``https://slack.com/api`` is on AWS)."""
        return f"{self.endpoint}/slack/api"

    def response_url(self) -> tuple[str, str]:
        token = uuid.uuid4().hex
        return token, f"{self.endpoint}/cfn/{token}"

    def handle(self, method: str, path: str, headers: dict[str, str], body: str) -> tuple[int, str]:
        if path.startswith("/cfn/"):
            self.responses[path.removeprefix("/cfn/")] = json.loads(body or "{}")
            return 200, ""
        if path == "/slack/api/chat.postMessage" and self.slack is not None:
            authorization = next(
                (v for k, v in headers.items() if k.lower() == "authorization"), ""
            )
            return 200, json.dumps(
                self.slack(json.loads(body or "{}"), authorization.removeprefix("Bearer "))
            )
        found = re.fullmatch(r"/restapis/([^/]+)/([^/]+)/([^/]+)(/.*)?", path.split("?")[0])
        api = self.apis.get((found.group(1), found.group(2))) if found else None
        if found is None or api is None:
            return 404, json.dumps({"message": "Not Found"})
        resource_path = found.group(4) or "/"
        caller = self._caller(headers)
        if caller is None:
            return 403, json.dumps({"message": "Missing Authentication Token"})
        if not policies.admits(
            api.policy,
            policies.Caller(caller, self.organization_of(caller)),
            "execute-api:Invoke",
        ):
            return 403, json.dumps(
                {
                    "Message": f"User: arn:aws:iam::{caller}:root is not authorized to perform: "
                    "execute-api:Invoke"
                }
            )
        for route in api.routes:
            parameters = route.match(method, resource_path)
            if parameters is not None:
                event = _proxy_event(
                    api, route, method, resource_path, parameters, headers, body, caller
                )
                reply = self.invoke(route.function_arn, event)
                return int(reply.get("statusCode", 200)), str(reply.get("body") or "")
        return 404, json.dumps({"message": f"no route {method} {resource_path}"})

    def _caller(self, headers: dict[str, str]) -> str | None:
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        found = re.search(r"Credential=([^/]+)/", authorization)
        return self.account_of_key(found.group(1)) if found else None


def _proxy_event(
    api: RestApi,
    route: Route,
    method: str,
    path: str,
    parameters: dict[str, str],
    headers: dict[str, str],
    body: str,
    caller: str,
) -> dict[str, Any]:
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "pathParameters": parameters or None,
        "queryStringParameters": None,
        "body": body or None,
        "isBase64Encoded": False,
        "requestContext": {
            "accountId": api.account,
            "resourcePath": route.path,
            "httpMethod": method,
            "stage": api.stage,
            "requestId": str(uuid.uuid4()),
            "identity": {
                "accountId": caller,
                "caller": caller,
                "userArn": f"arn:aws:iam::{caller}:user/dpc-sandbox",
            },
        },
    }
