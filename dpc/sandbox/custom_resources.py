"""Custom resources, which moto accepts but never runs: the sandbox sends their requests.

After each deploy of a stack, by any caller (the endpoint's CloudFormation calls
``after_deploy``: ``dpc.sandbox.cloudformation``), the sandbox compares the stack's custom
resources (from the deployed template, properties resolved against the deployed stack)
with those it saw before, and sends the handler named by each ``ServiceToken`` the
CloudFormation request it would have got — Create, Update (with ``OldResourceProperties``)
or Delete (also before a DeleteStack of the whole stack: ``before_delete``) — then reads
the answer the handler PUTs to its ``ResponseURL``. A FAILED answer fails the deploy, and
the endpoint rolls the stack back, as CloudFormation would.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dpc.errors import DpcError
from dpc.sandbox.gateway import Gateway
from dpc.sandbox.server import SandboxServer
from dpc.sandbox.templates import DeployedStack

CUSTOM_RESOURCE_TYPES = ("AWS::CloudFormation::CustomResource", "Custom::*")


class CustomResourceFailed(DpcError):
    """A custom-resource handler answered FAILED (or did not answer)."""


@dataclass(frozen=True)
class _Known:
    stack_id: str
    type: str
    properties: dict[str, Any]
    physical_id: str


@dataclass
class CustomResources:
    server: SandboxServer
    invoke: Callable[[str, Any], Any]
    """Runs a ServiceToken's handler (the sandbox's Lambda)."""
    gateway: Gateway
    _known: dict[tuple[str, str, str], _Known] = field(default_factory=dict)

    def after_deploy(self, account: str, stack_name: str) -> list[str]:
        """Send the requests a deploy of ``stack_name`` implies; returns what was done."""
        stack = self._stack(account, stack_name)
        done = []
        current = {r.logical_id: r for r in stack.of_type(*CUSTOM_RESOURCE_TYPES)}
        for logical_id, resource in current.items():
            key = (account, stack.name, logical_id)
            known = self._known.get(key)
            if known is None:
                physical = self._request(
                    "Create", stack, logical_id, resource.type, resource.properties
                )
            elif known.properties != resource.properties:
                physical = self._request(
                    "Update", stack, logical_id, resource.type, resource.properties, known
                )
            else:
                continue
            self._known[key] = _Known(stack.stack_id, resource.type, resource.properties, physical)
            done.append(f"{resource.type} {logical_id}")
        for key in [k for k in self._known if k[:2] == (account, stack.name)]:
            if key[2] not in current:
                known = self._known.pop(key)
                self._request("Delete", stack, key[2], known.type, known.properties, known)
                done.append(f"delete {known.type} {key[2]}")
        return done

    def before_delete(self, account: str, stack_name: str) -> None:
        """A stack is about to be deleted: its custom resources get their Delete."""
        stack = self._stack(account, stack_name)
        for key in [k for k in self._known if k[:2] == (account, stack.name)]:
            known = self._known[key]
            self._request("Delete", stack, key[2], known.type, known.properties, known)
            # Forgotten once deleted only: after a FAILED Delete, a retry sends it again.
            del self._known[key]

    def _stack(self, account: str, stack_name: str) -> DeployedStack:
        cloudformation = self.server.client(account, "cloudformation")
        return DeployedStack(cloudformation, stack_name, account, self.server.region)

    def _request(
        self,
        request_type: str,
        stack: DeployedStack,
        logical_id: str,
        resource_type: str,
        properties: dict[str, Any],
        known: _Known | None = None,
    ) -> str:
        token, response_url = self.gateway.response_url()
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": properties["ServiceToken"],
            "ResponseURL": response_url,
            "StackId": stack.stack_id,
            "RequestId": str(uuid.uuid4()),
            "LogicalResourceId": logical_id,
            "ResourceType": resource_type,
            "ResourceProperties": properties,
        }
        if known is not None:
            event["PhysicalResourceId"] = known.physical_id
        if request_type == "Update" and known is not None:
            event["OldResourceProperties"] = known.properties
        where = f"{resource_type} {logical_id} of {stack.name} ({request_type})"
        try:
            self.invoke(properties["ServiceToken"], event)
        except Exception as error:
            raise CustomResourceFailed(f"{where}: the handler raised {error!r}") from error
        answer = self.gateway.responses.pop(token, None)
        if answer is None:
            raise CustomResourceFailed(f"{where}: the handler sent no response")
        if answer.get("Status") != "SUCCESS":
            raise CustomResourceFailed(f"{where} failed: {answer.get('Reason', '')}")
        return str(answer.get("PhysicalResourceId") or logical_id)
