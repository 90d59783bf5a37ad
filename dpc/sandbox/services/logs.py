"""CloudWatch Logs subscriptions: what a state machine logs (level ALL) reaches the
Lambda destinations of its log group's subscription filters, as on AWS, although moto's
CloudFormation creates neither the logging configuration nor the filters."""

from __future__ import annotations

from dataclasses import dataclass

from dpc.sandbox.server import SandboxServer
from dpc.sandbox.services.lambdas import Lambdas
from dpc.sandbox.services.shared import Arn, DeployedStacks


@dataclass
class Logs:
    server: SandboxServer
    stacks: DeployedStacks
    lambdas: Lambdas

    def log_subscribers(self, account: str, log_group: str) -> list[str]:
        """Destinations of the subscription filters on ``log_group``: moto's and the
        deployed templates' (moto does not create AWS::Logs::SubscriptionFilter)."""
        found: dict[str, None] = {}
        logs = self.server.client(account, "logs")
        try:
            filters = logs.describe_subscription_filters(logGroupName=log_group)
            for existing in filters.get("subscriptionFilters", []):
                found[existing["destinationArn"]] = None
        except logs.exceptions.ResourceNotFoundException:
            pass
        for stack in self.stacks.of(account):
            for resource in stack.of_type("AWS::Logs::SubscriptionFilter"):
                if resource.properties.get("LogGroupName") == log_group:
                    found[str(resource.properties["DestinationArn"])] = None
        return list(found)

    def deployed_log_group(self, account: str, state_machine_arn: str) -> str | None:
        """The log group the deployed template gives a state machine (level ALL): moto's
        CloudFormation drops a state machine's LoggingConfiguration."""
        for stack in self.stacks.of(account):
            for machine in stack.of_type("AWS::StepFunctions::StateMachine"):
                if stack.physical_ids.get(machine.logical_id) != state_machine_arn:
                    continue
                config = machine.properties.get("LoggingConfiguration", {})
                if config.get("Level") != "ALL":
                    return None
                for destination in config.get("Destinations", []):
                    arn = str(destination.get("CloudWatchLogsLogGroup", {}).get("LogGroupArn"))
                    if ":log-group:" in arn:
                        return arn.split(":log-group:", 1)[1].removesuffix(":*")
        return None

    def deliver_logs(self, destinations: list[str], log_group: str, messages: list[str]) -> None:
        """What CloudWatch Logs sends a subscription's Lambda (the ``awslogs`` payload)."""
        from dpc.lambdas.execution_tracker import encode_subscription

        for destination in destinations:
            if Arn.parse(destination).service == "lambda":
                payload = encode_subscription(log_group, messages)
                self.lambdas.invoke_async(destination, payload, f"logs {log_group}")
