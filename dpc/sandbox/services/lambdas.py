"""Lambda, which moto keeps but never runs: the deployed handler runs in-process, as the
function (its environment, its account's credentials), in that function's warm container
(``containers``).

An asynchronous invocation (EventBridge, SNS, log subscriptions, ``Invoke`` with
``Event``) is retried as Lambda retries it and then sent, as Lambda's invocation record,
to the function's deployed on-failure destination; under chaos, some attempts time out
before or after the handler ran (``dpc.sandbox.chaos``)."""

from __future__ import annotations

import json
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from dpc.sandbox.chaos import Chaos, InvocationFault
from dpc.sandbox.clock import VirtualClock
from dpc.sandbox.endpoint import Call, Endpoint, Response, json_response, lambda_function_of
from dpc.sandbox.server import SandboxServer, environment_while
from dpc.sandbox.services.containers import (
    LAMBDA_STDOUT,
    Containers,
    LambdaContext,
    default_session,
    quiet,
)
from dpc.sandbox.services.shared import Arn, DeployedStacks, note, send_to_queue
from dpc.sandbox.timeline import Timeline, iso


@dataclass
class Lambdas:
    server: SandboxServer
    clock: VirtualClock
    timeline: Timeline
    stacks: DeployedStacks
    work_dir: Path
    chaos: Chaos | None = None
    extra_environment: dict[str, str] = field(default_factory=dict)
    """Set for every handler on top of its deployed environment: the sandbox's stand-ins
    for the internet (the fake Slack Web API), since the sandbox runs offline."""
    _containers: Containers = field(init=False)
    _open: ExitStack = field(default_factory=ExitStack)

    def __post_init__(self) -> None:
        self._containers = Containers(self.clock)

    def install(self, endpoint: Endpoint) -> None:
        """Intercept ``Invoke`` and open the handlers' log."""
        endpoint.intercept("lambda", "Invoke", self._invoke_call)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        log = self._open.enter_context(
            open(self.work_dir / "lambda.log", "a", encoding="utf-8")  # noqa: SIM115
        )
        LAMBDA_STDOUT.target = log
        self._open.callback(setattr, LAMBDA_STDOUT, "target", None)

    def uninstall(self) -> None:
        self._open.close()

    def _invoke_call(self, call: Call) -> Response:
        """The deployed handler runs in-process (``Event``: queued, with Lambda's retries
        and the function's on-failure destination; otherwise at once). A function that
        does not exist is moto's to refuse."""
        lambda_api = self.server.client_of_key(call.access_key, "lambda")
        name, qualifier = _qualified(lambda_function_of(call), call.query.get("Qualifier"))
        try:
            function = lambda_api.get_function_configuration(
                FunctionName=name, **({"Qualifier": qualifier} if qualifier else {})
            )
        except lambda_api.exceptions.ResourceNotFoundException:
            return call.forward()
        # Lambda answers a qualified ARN for a qualified request; the sandbox keeps the
        # function's own ARN, so an invocation record names it qualified exactly once.
        function_arn, _ = _qualified(function["FunctionArn"], None)
        payload = json.loads(call.body) if call.body else {}
        if call.header("X-Amz-Invocation-Type") == "Event":
            self.clock.soon(lambda: self.invoke_async(function_arn, payload, "lambda:Invoke"))
            return Response(202, b"", (("Content-Type", "application/json"),))
        headers = {"X_Amz_Executed_Version": "$LATEST"}
        try:
            result = self.invoke(function_arn, payload)
        except Exception as error:  # any failure is answered as Lambda answers it
            headers["X_Amz_Function_Error"] = "Unhandled"
            result = {"errorMessage": str(error), "errorType": type(error).__name__}
        return json_response(result, 200, **headers)

    def invoke_async(self, function_arn: str, event: Any, source: str, attempt: int = 0) -> None:
        """An asynchronous invocation (EventBridge, SNS, ``Invoke`` with ``Event``), as Lambda
        runs it: a failed attempt is retried after one, then two minutes, up to the function's
        deployed ``MaximumRetryAttempts`` (default 2); then the invocation record goes to its
        on-failure destination, or is noted when it has none."""
        try:
            retries, destination = self.invoke_config(function_arn)
        except Exception as error:  # any failure is handled as AWS handles it
            note(self.timeline, self.clock, f"{source} → {function_arn}: {error}", "error")
            return
        fault = self.chaos.invocation_fault() if self.chaos else None
        try:
            if fault is InvocationFault.BEFORE:
                raise TimeoutError(f"Task timed out (chaos: {fault.value})")
            self.invoke(function_arn, event)
            if fault is InvocationFault.AFTER:
                raise TimeoutError(f"Task timed out (chaos: {fault.value})")
        except Exception as error:  # any failure is handled as AWS handles it
            if attempt < retries:
                moment = self.clock.now + timedelta(minutes=attempt + 1)
                self.clock.at(
                    moment, lambda: self.invoke_async(function_arn, event, source, attempt + 1)
                )
                return
            self._invocation_failed(function_arn, event, source, error, attempt + 1, destination)

    def _invocation_failed(
        self,
        function_arn: str,
        event: Any,
        source: str,
        error: Exception,
        attempts: int,
        destination: str | None,
    ) -> None:
        name = function_arn.rsplit(":", 1)[-1]
        note(
            self.timeline,
            self.clock,
            f"{source} → {name} failed {attempts} times: {type(error).__name__}: {error}"
            + (f" → {destination.rsplit(':', 1)[-1]}" if destination else ""),
            "error",
        )
        if not destination:
            return
        record = {
            "version": "1.0",
            "timestamp": iso(self.clock.now),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"{function_arn}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": attempts,
            },
            "requestPayload": event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {"errorMessage": str(error), "errorType": type(error).__name__},
        }
        send_to_queue(self.server, destination, json.dumps(record))

    def invoke_config(self, function_arn: str) -> tuple[int, str | None]:
        """(retries, on-failure destination) of a function: its event invoke configuration
        as the Lambda API holds it, else as a deployed AWS::Lambda::EventInvokeConfig says
        (moto's CloudFormation does not create that resource). Raises for a function that
        does not exist."""
        arn = Arn.parse(function_arn)
        name = arn.resource.split(":")[1]
        lambda_api = self.server.client(arn.account, "lambda")
        try:
            config = lambda_api.get_function_event_invoke_config(FunctionName=name)
        except lambda_api.exceptions.ResourceNotFoundException as error:
            if "EventInvokeConfig" not in error.response["Error"]["Message"]:
                raise  # no such function: the caller's delivery fails
            config = None
        if config is not None:
            on_failure = config.get("DestinationConfig", {}).get("OnFailure", {})
            return int(config.get("MaximumRetryAttempts", 2)), on_failure.get("Destination")
        for stack in self.stacks.of(arn.account):
            for resource in stack.of_type("AWS::Lambda::EventInvokeConfig"):
                props = resource.properties
                if str(props.get("FunctionName", "")).rsplit(":", 1)[-1] != name:
                    continue
                on_failure = (props.get("DestinationConfig") or {}).get("OnFailure") or {}
                return int(props.get("MaximumRetryAttempts", 2)), on_failure.get("Destination")
        return 2, None

    def invoke(self, function_arn: str, event: Any) -> Any:
        """Run the dpc handler the deployed function names, in-process, as that function."""
        arn = Arn.parse(function_arn)
        name = arn.resource.split(":")[1]
        config = self.server.client(arn.account, "lambda").get_function_configuration(
            FunctionName=name
        )
        environment = {
            **config.get("Environment", {}).get("Variables", {}),
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.get("MemorySize", 128)),
            **self.extra_environment,
        }
        context = LambdaContext(
            function_arn, name, config.get("MemorySize", 128), config.get("Timeout", 3)
        )
        with (
            self.server.acting_as(arn.account),
            environment_while(environment),
            default_session(self.server.session(arn.account)),
            quiet(),
        ):
            handler = self._containers.handler(config["FunctionArn"], config["Handler"])
            return handler(event, context)


def _qualified(function: str, qualifier: str | None) -> tuple[str, str | None]:
    """(function name or unqualified ARN, qualifier) of Invoke's ``FunctionName``, which
    may carry the qualifier itself (``name:alias``, ``arn:…:function:name:$LATEST``)."""
    parts = function.split(":")
    if function.startswith("arn:") and len(parts) == 8:
        return ":".join(parts[:7]), qualifier or parts[7]
    if len(parts) == 2:
        return parts[0], qualifier or parts[1]
    return function, qualifier
