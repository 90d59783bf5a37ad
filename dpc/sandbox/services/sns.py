"""SNS, which moto keeps messages for but delivers only to what it knows: the sandbox also
delivers to the subscriptions the deployed templates declare (moto drops
``AWS::SNS::Subscription``): e-mail and HTTPS endpoints land in the outbox, Lambda
subscribers are invoked asynchronously (``lambdas``)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from dpc.sandbox.clock import VirtualClock
from dpc.sandbox.endpoint import Call, Endpoint, Response
from dpc.sandbox.server import SandboxServer
from dpc.sandbox.services.lambdas import Lambdas
from dpc.sandbox.services.shared import Arn, DeployedStacks
from dpc.sandbox.timeline import Alert, Timeline


@dataclass
class Topics:
    server: SandboxServer
    clock: VirtualClock
    timeline: Timeline
    stacks: DeployedStacks
    lambdas: Lambdas

    def install(self, endpoint: Endpoint) -> None:
        endpoint.intercept("sns", "Publish", self._publish_call)

    def _publish_call(self, call: Call) -> Response:
        answer = call.forward()
        form = call.form
        topic_arn = form.get("TopicArn") or form.get("TargetArn", "")
        if answer.status == 200 and ":sns:" in topic_arn:
            self._published(topic_arn, form.get("Message", ""), form.get("Subject"))
        return answer

    def publish(self, topic_arn: str, message: str, subject: str | None) -> None:
        """Publish as the topic's account, through the endpoint (which delivers)."""
        arn = Arn.parse(topic_arn)
        sns = self.server.client(arn.account, "sns")
        sns.publish(
            TopicArn=topic_arn, Message=message, **({"Subject": subject} if subject else {})
        )

    def _published(self, topic_arn: str, message: str, subject: str | None) -> None:
        for protocol, endpoint in self.subscriptions(topic_arn):
            if protocol in ("email", "email-json"):
                self.timeline.add(Alert(self.clock.now, "EMAIL", endpoint, message))
            elif protocol == "lambda":
                payload = _sns_event(topic_arn, message, subject)
                self.clock.soon(
                    functools.partial(self.lambdas.invoke_async, endpoint, payload, "sns")
                )
            else:
                self.timeline.add(Alert(self.clock.now, protocol.upper(), endpoint, message))

    def subscriptions(self, topic_arn: str) -> list[tuple[str, str]]:
        """(protocol, endpoint) of the subscriptions moto keeps, then of those the deployed
        templates declare, each once."""
        arn = Arn.parse(topic_arn)
        found: dict[tuple[str, str], None] = {}
        sns = self.server.client(arn.account, "sns")
        for sub in sns.list_subscriptions_by_topic(TopicArn=topic_arn).get("Subscriptions", []):
            found[(sub["Protocol"], sub["Endpoint"])] = None
        for stack in self.stacks.of(arn.account):
            for resource in stack.of_type("AWS::SNS::Subscription"):
                props = resource.properties
                if props.get("TopicArn") == topic_arn:
                    found[(props["Protocol"], props["Endpoint"])] = None
        return list(found)


def _sns_event(topic_arn: str, message: str, subject: str | None) -> dict[str, Any]:
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "Sns": {
                    "Type": "Notification",
                    "TopicArn": topic_arn,
                    "Subject": subject,
                    "Message": message,
                },
            }
        ]
    }
