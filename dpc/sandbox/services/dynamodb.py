"""DynamoDB under chaos: some requests are answered ``ThrottlingException`` (HTTP 400), as
a table at its capacity answers them; the product's clients retry them (botocore's
standard mode). A clean run forwards every request to moto."""

from __future__ import annotations

from dataclasses import dataclass

from dpc.sandbox.chaos import Chaos
from dpc.sandbox.endpoint import ANY_OPERATION, Call, Endpoint, Response, json_error


@dataclass
class DynamoDb:
    chaos: Chaos | None = None

    def install(self, endpoint: Endpoint) -> None:
        endpoint.intercept("dynamodb", ANY_OPERATION, self._call)

    def _call(self, call: Call) -> Response:
        if self.chaos is not None and self.chaos.throttles_dynamodb():
            return json_error(
                "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                "Rate of requests exceeds the allowed throughput.",
            )
        return call.forward()
