"""EventBridge delivery, which moto stops short of for Lambda and Step Functions targets:
an event on a bus reaches the targets of the bus's rules whose deployed pattern matches
it (``dpc.sandbox.patterns``), read through the EventBridge API of the bus's account.

Each target gets its Input / InputPath / InputTransformer, and is sent to: Lambda
(``lambdas``, asynchronously), Step Functions (StartExecution, which ``states`` runs),
another bus (after that bus's deployed policy admits the rule's account), SQS and SNS
(``sns``). The original ``account`` of a forwarded event is kept, as on AWS: the trigger
manager trusts nothing else. What a target cannot take goes to its dead-letter queue with
EventBridge's attributes (RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE). Under chaos,
a delivery is sometimes made twice or minutes late (``dpc.sandbox.chaos``).
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dpc import constants
from dpc.operate.rule_input import render_template
from dpc.sandbox import policies
from dpc.sandbox.bus import BusEvent
from dpc.sandbox.chaos import Chaos
from dpc.sandbox.clock import VirtualClock
from dpc.sandbox.jsonpath import json_path
from dpc.sandbox.patterns import matches
from dpc.sandbox.server import SandboxServer
from dpc.sandbox.services.lambdas import Lambdas
from dpc.sandbox.services.shared import Arn, DeployedStacks, note, send_to_queue
from dpc.sandbox.services.sns import Topics
from dpc.sandbox.timeline import Timeline, iso


@dataclass
class Buses:
    server: SandboxServer
    clock: VirtualClock
    timeline: Timeline
    stacks: DeployedStacks
    lambdas: Lambdas
    topics: Topics
    organization_id: str | None = None
    """The organization the sandbox's accounts belong to (for ``aws:PrincipalOrgID``)."""
    chaos: Chaos | None = None
    _execution_names: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def envelope(
        self,
        *,
        source: str,
        detail_type: str,
        detail: Any,
        account: str,
        region: str,
        resources: list[str] | None = None,
        time: Any = None,
    ) -> dict[str, Any]:
        if isinstance(time, datetime):
            time = iso(time)
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": account,
            "time": time or iso(self.clock.now),
            "region": region,
            "resources": list(resources or []),
            "detail": detail,
        }

    def admits(self, bus_account: str, region: str, bus_name: str, sender: str) -> bool:
        """Does the deployed policy of ``bus_name`` in ``bus_account`` admit ``sender``?"""
        events_api = self.server.client(bus_account, "events")
        try:
            api_policy = events_api.describe_event_bus(Name=bus_name).get("Policy")
        except events_api.exceptions.ResourceNotFoundException:
            return False
        statements = policies.bus_statements(self.stacks.of(bus_account), bus_name, api_policy)
        caller = policies.Caller(sender, self.organization_id if self._in_org(sender) else None)
        return policies.admits(statements, caller, "events:PutEvents")

    def _in_org(self, account: str) -> bool:
        return account in self.server.accounts.values()

    def put_on_bus(self, event: BusEvent) -> None:
        """Queue ``event`` for delivery at the current virtual time."""
        self.clock.soon(lambda: self.deliver(event))

    def deliver(self, event: BusEvent) -> None:
        events_api = self.server.client(event.bus_account, "events")
        for rule in rules(events_api, event.bus_name):
            if rule.get("State") != "ENABLED" or not rule.get("EventPattern"):
                continue
            if not matches(json.loads(rule["EventPattern"]), event.envelope):
                continue
            targets = events_api.list_targets_by_rule(
                Rule=rule["Name"], EventBusName=event.bus_name
            )["Targets"]
            for target in targets:
                self.deliver_to(event, rule, target)

    def deliver_to(self, event: BusEvent, rule: dict[str, Any], target: dict[str, Any]) -> None:
        """At least once, and under chaos sometimes twice or minutes late, as EventBridge."""
        copies = self.chaos.copies() if self.chaos else 1
        for _ in range(copies):
            delay = self.chaos.delivery_delay() if self.chaos else 0
            if delay:
                moment = self.clock.now + timedelta(seconds=delay)
                self.clock.at(moment, functools.partial(self.send, event, rule, target))
            else:
                self.send(event, rule, target)

    def send(self, event: BusEvent, rule: dict[str, Any], target: dict[str, Any]) -> None:
        """Deliver to one target; what cannot be delivered goes to the target's dead-letter
        queue with EventBridge's message attributes, or is noted if it has none."""
        try:
            self._send(event, rule, target)
        except Exception as error:  # any failure is handled as AWS handles it
            self._dead_letter(event, rule, target, error)

    def _dead_letter(
        self, event: BusEvent, rule: dict[str, Any], target: dict[str, Any], error: Exception
    ) -> None:
        code = getattr(error, "response", {}).get("Error", {}).get("Code") or type(error).__name__
        queue = (target.get("DeadLetterConfig") or {}).get("Arn")
        note(
            self.timeline,
            self.clock,
            f"rule {rule['Name']}: delivery to {target['Arn']} failed ({code}: {error})"
            + (f" → dead-letter queue {queue.rsplit(':', 1)[-1]}" if queue else ""),
            "error",
        )
        if not queue:
            return
        attributes = {
            "RULE_ARN": rule["Arn"],
            "TARGET_ARN": target["Arn"],
            "ERROR_CODE": code,
            "ERROR_MESSAGE": str(error)[:256],
        }
        send_to_queue(
            self.server,
            queue,
            json.dumps(event.envelope),
            {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )

    def _send(self, event: BusEvent, rule: dict[str, Any], target: dict[str, Any]) -> None:
        payload = target_input(target, event.envelope)
        arn = Arn.parse(target["Arn"])
        if arn.service == "lambda":
            self.lambdas.invoke_config(target["Arn"])  # a missing function fails the delivery
            self.lambdas.invoke_async(target["Arn"], json.loads(payload), rule["Name"])
        elif arn.service == "states":
            states = self.server.client(arn.account, "stepfunctions")
            states.start_execution(
                stateMachineArn=target["Arn"],
                name=self._execution_name(arn.account, arn.resource.split(":", 1)[1]),
                input=payload,
            )
        elif arn.service == "events" and arn.resource.startswith("event-bus/"):
            self._forward(event, rule, arn)
        elif arn.service == "sqs":
            send_to_queue(self.server, target["Arn"], payload)
        elif arn.service == "sns":
            self.topics.publish(target["Arn"], payload, subject=None)
        else:
            raise NotImplementedError(f"target {target['Arn']} is not emulated")

    def _forward(self, event: BusEvent, rule: dict[str, Any], target_bus: Arn) -> None:
        bus_name = target_bus.resource.split("/", 1)[1]
        if target_bus.account != event.bus_account and not self.admits(
            target_bus.account, target_bus.region, bus_name, event.bus_account
        ):
            note(
                self.timeline,
                self.clock,
                f"refused: rule {rule['Name']} of {event.bus_account} may not put events on "
                f"{bus_name} of {target_bus.account}",
                "refused",
            )
            return
        forwarded = BusEvent(target_bus.account, target_bus.region, bus_name, event.envelope)
        self.put_on_bus(forwarded)

    def _execution_name(self, account: str, state_machine_name: str) -> str:
        """AWS names rule-started executions with a random UUID; the sandbox names them by
        pipeline and virtual time instead, so a timeline reads well and two runs of the same
        story print the same names. Unique per state machine, valid as a name."""
        pipeline = state_machine_name.removeprefix(constants.STATE_MACHINE_PREFIX)
        name = f"{pipeline}-{self.clock.now:%Y%m%dT%H%M}"
        key = (account, state_machine_name)
        used = self._execution_names.setdefault(key, set())
        unique, number = name, 1
        while unique in used:
            number += 1
            unique = f"{name}-{number}"
        used.add(unique)
        return unique


def rules(events_api: Any, bus_name: str) -> Iterator[dict[str, Any]]:
    token = None
    while True:
        page = events_api.list_rules(
            EventBusName=bus_name, **({"NextToken": token} if token else {})
        )
        yield from page.get("Rules", [])
        token = page.get("NextToken")
        if not token:
            return


def target_input(target: dict[str, Any], envelope: dict[str, Any]) -> str:
    """The payload a target gets: Input, InputPath or InputTransformer as deployed."""
    if "Input" in target:
        return str(target["Input"])
    if "InputPath" in target:
        return json.dumps(json_path(envelope, target["InputPath"]))
    transformer = target.get("InputTransformer")
    if transformer:
        values = {
            name: json_path(envelope, path)
            for name, path in transformer.get("InputPathsMap", {}).items()
        }
        return render_template(transformer["InputTemplate"], values)
    return json.dumps(envelope)
