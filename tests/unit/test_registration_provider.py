"""The user account's custom-resource provider: CloudFormation requests → central API calls."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dpc.lambdas import registration_provider as provider
from dpc.lambdas.sigv4 import SignedCallError

API = "https://abc.execute-api.eu-west-1.amazonaws.com/v1/"
SLACK = "https://def.execute-api.eu-west-1.amazonaws.com/v1"
ENV = {provider.ENV_DEPENDENCY_API_URL: API, provider.ENV_SLACK_API_URL: SLACK}
CONDITION = {"allOf": [{"name": "listings", "account": "111111111111", "status": ["SUCCEEDED"]}]}


def request(kind: str, resource_type: str, **properties: Any) -> dict[str, Any]:
    return {
        "RequestType": kind,
        "ResourceType": resource_type,
        "StackId": "arn:aws:cloudformation:eu-west-1:333333333333:stack/dpc-pipeline-x/1",
        "RequestId": "r-1",
        "LogicalResourceId": "DependencyRegistration",
        "ResponseURL": "http://unused",
        "PhysicalResourceId": "333333333333/pipeline-x" if kind != "Create" else None,
        "ResourceProperties": {"Pipeline": "pipeline-x", "Account": "333333333333", **properties},
    }


class Recorder:
    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[str, str, Mapping[str, Any] | None]] = []
        self.error = error

    def __call__(self, method: str, url: str, body: Mapping[str, Any] | None) -> Any:
        self.calls.append((method, url, body))
        if self.error:
            raise self.error
        return {}


def test_create_registers_condition_schedule_and_state_machine() -> None:
    call = Recorder()
    status, physical, _ = provider.handle(
        request(
            "Create",
            provider.PIPELINE_REGISTRATION,
            StateMachineArn="arn:aws:states:eu-west-1:333333333333:stateMachine:dpc-pipeline-x",
            Condition=json.dumps(CONDITION),
            Schedule="",
        ),
        call=call,
        environ=ENV,
    )
    assert (status, physical) == ("SUCCESS", "333333333333/pipeline-x")
    ((method, url, body),) = call.calls
    assert (method, url) == ("PUT", f"{API}pipelines/333333333333/pipeline-x")
    assert body == {
        "stateMachineArn": "arn:aws:states:eu-west-1:333333333333:stateMachine:dpc-pipeline-x",
        "condition": CONDITION,
        "schedule": None,
        "period": None,
        "dependents": None,
        "expect": None,
    }


def test_the_period_spec_goes_with_the_registration() -> None:
    # Given the registration a pipeline stack synthesizes for `period: {unit: day, offset: -1d}`
    call = Recorder()
    provider.handle(
        request(
            "Update",
            provider.PIPELINE_REGISTRATION,
            StateMachineArn="arn:aws:states:eu-west-1:333333333333:stateMachine:dpc-pipeline-x",
            Condition="",
            Schedule="cron(0 3 * * ? *)",
            Period=json.dumps({"unit": "day", "offsetSeconds": -86400}),
        ),
        call=call,
        environ=ENV,
    )
    # Then the central API receives it as JSON, next to the schedule
    ((_, _, body),) = call.calls
    assert body is not None
    assert (body["schedule"], body["period"]) == (
        "cron(0 3 * * ? *)",
        {"unit": "day", "offsetSeconds": -86400},
    )


def test_the_dependents_list_goes_with_the_registration() -> None:
    # Given the registration of a pipeline with `dependents: {accounts: ["333333333333"]}`
    call = Recorder()
    provider.handle(
        request(
            "Update",
            provider.PIPELINE_REGISTRATION,
            StateMachineArn="arn:aws:states:eu-west-1:333333333333:stateMachine:dpc-pipeline-x",
            Dependents=json.dumps({"accounts": ["333333333333"]}),
        ),
        call=call,
        environ=ENV,
    )
    # Then the central API receives it, to enforce it
    ((_, _, body),) = call.calls
    assert body is not None and body["dependents"] == {"accounts": ["333333333333"]}


def test_the_deadline_goes_with_the_registration() -> None:
    call = Recorder()
    provider.handle(
        request(
            "Create",
            provider.PIPELINE_REGISTRATION,
            StateMachineArn="arn:aws:states:eu-west-1:333333333333:stateMachine:dpc-pipeline-x",
            Expect="06:00",
        ),
        call=call,
        environ=ENV,
    )
    ((_, _, body),) = call.calls
    assert body is not None and body["expect"] == "06:00"


def test_slack_channels_go_to_the_slack_api() -> None:
    call = Recorder()
    provider.handle(
        request("Update", provider.SLACK_CHANNELS, Channels=["data-pipeline-alerts"]),
        call=call,
        environ=ENV,
    )
    assert call.calls == [
        ("PUT", f"{SLACK}/channels/333333333333/pipeline-x", {"channels": ["data-pipeline-alerts"]})
    ]


def test_delete_of_an_already_removed_registration_succeeds() -> None:
    call = Recorder(SignedCallError(f"DELETE {API} answered 404: unknown pipeline"))
    status, physical, _ = provider.handle(
        request("Delete", provider.PIPELINE_REGISTRATION, StateMachineArn="x"),
        call=call,
        environ=ENV,
    )
    assert (status, physical) == ("SUCCESS", "333333333333/pipeline-x")
    assert call.calls[0][0] == "DELETE"


def test_a_refused_registration_fails_with_the_api_message() -> None:
    call = Recorder(SignedCallError("PUT ... answered 409: cycle pipeline-x -> listings"))
    status, _, reason = provider.handle(
        request("Create", provider.PIPELINE_REGISTRATION, StateMachineArn="x", Condition=""),
        call=call,
        environ=ENV,
    )
    assert status == "FAILED"
    assert "cycle pipeline-x -> listings" in reason


def test_an_unconfigured_api_fails_with_what_to_do() -> None:
    status, _, reason = provider.handle(
        request("Create", provider.SLACK_CHANNELS, Channels=["x"]),
        call=Recorder(),
        environ={provider.ENV_SLACK_API_URL: provider.NOT_CONFIGURED},
    )
    assert status == "FAILED"
    assert "dpc setup-user-account" in reason


@pytest.fixture
def response_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/response", received
    server.shutdown()


def test_the_outcome_is_put_to_cloudformations_response_url(
    response_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = response_server
    event = {**request("Create", provider.SLACK_CHANNELS), "ResponseURL": url}
    provider.send_response(event, "FAILED", "333333333333/pipeline-x", "why it failed")
    (answer,) = received
    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == "why it failed"
    assert answer["PhysicalResourceId"] == "333333333333/pipeline-x"
    assert (answer["RequestId"], answer["LogicalResourceId"]) == ("r-1", "DependencyRegistration")
