"""Reading what was deployed: templates (``GetTemplate``) with their intrinsics resolved.

moto accepts some resources as placeholders without creating them (bus policies, SNS
subscriptions, custom resources: DESIGN §8). What the sandbox needs of them it reads from
the template CloudFormation holds for the stack, resolving ``Ref``, ``Fn::GetAtt``,
``Fn::Join``, ``Fn::Sub``… against that stack's deployed resources, so the sandbox acts on
exactly what was deployed and never on a second copy of the wiring.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

PARTITION = "aws"


@dataclass(frozen=True)
class DeployedResource:
    stack: DeployedStack
    logical_id: str
    type: str
    properties: dict[str, Any]
    """Resolved properties (intrinsics replaced by their deployed values)."""


class DeployedStack:
    """One deployed stack of one account, its template and its resources' physical ids."""

    def __init__(self, cloudformation: Any, stack_id: str, account: str, region: str) -> None:
        description = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]
        self.name: str = description["StackName"]
        self.stack_id: str = description["StackId"]
        self.account = account
        self.region = region
        self.parameters = {
            p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue"))
            for p in description.get("Parameters", [])
        }
        body = cloudformation.get_template(StackName=self.stack_id)["TemplateBody"]
        self.template: dict[str, Any] = json.loads(body) if isinstance(body, str) else dict(body)
        self.physical_ids = {
            r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
            for r in _paginate(
                cloudformation.list_stack_resources,
                "StackResourceSummaries",
                StackName=self.stack_id,
            )
        }
        self._exports: Callable[[], dict[str, str]] = lambda: {
            e["Name"]: e["Value"] for e in _paginate(cloudformation.list_exports, "Exports")
        }

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.template.get("Resources", {})
        return resources

    def of_type(self, *types: str) -> Iterator[DeployedResource]:
        for logical_id, resource in self.resources.items():
            kind = resource.get("Type", "")
            if kind in types or ("Custom::*" in types and kind.startswith("Custom::")):
                yield DeployedResource(
                    self, logical_id, kind, self.resolve(resource.get("Properties", {}))
                )

    # -- intrinsic functions ---------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value if v != {"Ref": "AWS::NoValue"}]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            function = _INTRINSICS.get(key)
            if function is not None:
                return function(self, argument)
        return {k: self.resolve(v) for k, v in value.items() if v != {"Ref": "AWS::NoValue"}}

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": PARTITION,
            "AWS::StackName": self.name,
            "AWS::StackId": self.stack_id,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.physical_ids.get(name, name)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        kind = self.resources.get(logical_id, {}).get("Type", "")
        physical = self.physical_ids.get(logical_id, logical_id)
        arn = f"arn:{PARTITION}:{{}}:{self.region}:{self.account}:{{}}"
        if attribute == "Arn":
            if physical.startswith("arn:"):
                return physical
            by_type = {
                "AWS::Lambda::Function": arn.format("lambda", f"function:{physical}"),
                "AWS::Events::EventBus": arn.format("events", f"event-bus/{physical}"),
                "AWS::Events::Rule": arn.format("events", f"rule/{physical}"),
                "AWS::SQS::Queue": arn.format("sqs", physical.rsplit("/", 1)[-1]),
                "AWS::DynamoDB::Table": arn.format("dynamodb", f"table/{physical}"),
                "AWS::IAM::Role": f"arn:{PARTITION}:iam::{self.account}:role/{physical}",
                "AWS::S3::Bucket": f"arn:{PARTITION}:s3:::{physical}",
                "AWS::Logs::LogGroup": arn.format("logs", f"log-group:{physical}:*"),
            }
            return by_type.get(kind, physical)
        if attribute in ("Name", "TopicName", "QueueName", "BucketName"):
            return physical.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        return physical

    def sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        variables = {k: self.resolve(v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return str(self.get_att(logical_id, attribute))
            return str(self.ref(name))

        return re.sub(r"\$\{([^!}][^}]*)\}", replace, text)


def _get_att(stack: DeployedStack, argument: Any) -> Any:
    if isinstance(argument, str):
        argument = argument.split(".", 1)
    logical_id, attribute = argument
    return stack.get_att(logical_id, stack.resolve(attribute))


def _join(stack: DeployedStack, argument: Any) -> str:
    separator, values = argument
    return str(separator).join(str(v) for v in stack.resolve(values))


def _select(stack: DeployedStack, argument: Any) -> Any:
    index, values = argument
    return stack.resolve(values)[int(stack.resolve(index))]


def _split(stack: DeployedStack, argument: Any) -> list[str]:
    separator, text = argument
    return str(stack.resolve(text)).split(separator)


def _import_value(stack: DeployedStack, argument: Any) -> Any:
    return stack._exports().get(stack.resolve(argument))


def _if(stack: DeployedStack, argument: Any) -> Any:
    # Conditions are not evaluated by the sandbox; dpc's templates take the "true" branch
    # only where it is the deployed one (none of the resources the sandbox reads use Fn::If).
    return stack.resolve(argument[1])


_INTRINSICS: dict[str, Callable[[DeployedStack, Any], Any]] = {
    "Ref": lambda stack, name: stack.ref(name),
    "Fn::GetAtt": _get_att,
    "Fn::Join": _join,
    "Fn::Sub": lambda stack, argument: stack.sub(argument),
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::ImportValue": _import_value,
    "Fn::If": _if,
    "Fn::GetAZs": lambda stack, _: [f"{stack.region}a", f"{stack.region}b"],
    "Fn::Base64": lambda stack, argument: stack.resolve(argument),
}


def _paginate(method: Callable[..., Any], key: str, **kwargs: Any) -> Iterator[Any]:
    token: str | None = None
    while True:
        page = method(**kwargs, **({"NextToken": token} if token else {}))
        yield from page.get(key, [])
        token = page.get("NextToken")
        if not token:
            return


def deployed_stacks(cloudformation: Any, account: str, region: str) -> list[DeployedStack]:
    """Every live stack of one account, oldest first."""
    live = [
        s
        for s in _paginate(cloudformation.list_stacks, "StackSummaries")
        if s["StackStatus"] not in ("DELETE_COMPLETE",)
    ]
    return [DeployedStack(cloudformation, s["StackId"], account, region) for s in reversed(live)]
