"""Who may put events on a bus: the bus's resource policy, as deployed, evaluated.

moto neither creates ``AWS::Events::EventBusPolicy`` resources nor checks a bus's policy
on a cross-account put. The sandbox reads the statements from the deployed templates (and
any added through the PutPermission API) and applies IAM's rules for a resource policy
alone: an explicit Deny wins, else an Allow whose principal, action and conditions match.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dpc.sandbox.templates import DeployedStack


@dataclass(frozen=True)
class Caller:
    account: str
    organization_id: str | None = None


def bus_statements(
    stacks: Iterable[DeployedStack], bus_name: str, api_policy: str | None
) -> list[dict[str, Any]]:
    """The policy statements of ``bus_name`` from the deployed templates and the API."""
    statements: list[dict[str, Any]] = []
    for stack in stacks:
        for resource in stack.of_type("AWS::Events::EventBusPolicy"):
            props = resource.properties
            if props.get("EventBusName", "default") != bus_name:
                continue
            statements.append(props.get("Statement") or _legacy_statement(props))
        for resource in stack.of_type("AWS::Events::EventBus"):
            policy = resource.properties.get("Policy")
            if resource.properties.get("Name") == bus_name and policy:
                statements.extend(_as_list(_load(policy).get("Statement")))
    if api_policy:
        statements.extend(_as_list(json.loads(api_policy).get("Statement")))
    return statements


def _legacy_statement(props: Mapping[str, Any]) -> dict[str, Any]:
    """The pre-``Statement`` form: Action, Principal (an account id or *), Condition."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Action": props.get("Action", "events:PutEvents"),
        "Principal": {"AWS": props.get("Principal", "")},
    }
    condition = props.get("Condition")
    if condition:
        statement["Condition"] = {"StringEquals": {condition["Key"]: condition["Value"]}}
    return statement


def _load(policy: Any) -> dict[str, Any]:
    return json.loads(policy) if isinstance(policy, str) else dict(policy)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def admits(statements: Iterable[Mapping[str, Any]], caller: Caller, action: str) -> bool:
    allowed = False
    for statement in statements:
        if not (_action_matches(statement, action) and _principal_matches(statement, caller)):
            continue
        if not _conditions_hold(statement.get("Condition", {}), caller):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    return any(
        fnmatch.fnmatchcase(action.lower(), str(pattern).lower())
        for pattern in _as_list(statement.get("Action"))
    )


def _principal_matches(statement: Mapping[str, Any], caller: Caller) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    for entry in _as_list(principal.get("AWS")):
        text = str(entry)
        if text == "*" or text == caller.account:
            return True
        if text.startswith("arn:") and text.split(":")[4] == caller.account:
            return True
    return False


def _conditions_hold(conditions: Mapping[str, Any], caller: Caller) -> bool:
    known = {
        "aws:principalorgid": caller.organization_id,
        "aws:principalaccount": caller.account,
        "aws:sourceaccount": caller.account,
    }
    for operator, tests in conditions.items():
        if operator not in ("StringEquals", "StringLike"):
            return False  # a condition the sandbox cannot evaluate never admits a caller
        for key, expected in tests.items():
            actual = known.get(key.lower())
            if actual is None:
                return False
            patterns = [str(e) for e in _as_list(expected)]
            if operator == "StringEquals" and actual not in patterns:
                return False
            if operator == "StringLike" and not any(
                fnmatch.fnmatchcase(actual, p) for p in patterns
            ):
                return False
    return True
