"""The dependencies-publisher Lambda behind the dependency-management API (REST, IAM auth).

Routes::

    PUT    /pipelines/{account}/{name}   body {"stateMachineArn": ..., "condition": <JSON form,
                                               see dpc.triggers.codec> | null, "schedule": ...,
                                               "period": {"unit", "offsetSeconds"} | null,
                                               "dependents": {"accounts": [...]} | null}
    DELETE /pipelines/{account}/{name}

The caller's account is the one IAM authenticated (``requestContext.identity.accountId``):
an account may register only its own pipelines, with a state machine in its own account.
Answers: 200 with the registration, 400 bad request, 403 another account's pipeline or a
parent that does not accept dependents from the caller's account (its ``dependents``),
404 unknown pipeline (DELETE), 409 a dependency cycle (named), a parent already at a
dependents limit (``MAX_CHILDREN_PER_PARENT``, ``MAX_CHILDREN_PER_ACCOUNT_PER_PARENT``) or
a ``dependents`` list that leaves out children already registered (named), 503 concurrent
registrations kept winning (deploy again). The message is one line: the registration
provider passes it to CloudFormation as the failure reason, which ``dpc deploy`` prints.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger

from dpc.constants import ENV_DEPENDENCIES_TABLE, ENV_TRIGGER_STATE_TABLE, STATE_MACHINE_PREFIX
from dpc.lambdas.clients import client as build_client
from dpc.lambdas.registry import (
    CycleError,
    DependentNotAllowedError,
    DependentsNarrowedError,
    DynamoDbRegistry,
    Registration,
    RegistryBusyError,
    TooManyChildrenError,
)
from dpc.triggers.codec import ConditionFormatError, condition_from_json, condition_to_json
from dpc.triggers.model import ParentRef
from dpc.triggers.periods import PeriodError, PeriodSpec

logger = Logger(service="dpc-dependencies-publisher")

_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")
_ACCOUNT = re.compile(r"\d{12}")
_STATE_MACHINE_ARN = re.compile(r"arn:aws[a-z-]*:states:[a-z0-9-]+:(\d{12}):stateMachine:(.+)")


def _response(status: int, body: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }


class DependenciesPublisher:
    def __init__(self, registry: DynamoDbRegistry) -> None:
        self.registry = registry

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        method = event.get("httpMethod")
        params = event.get("pathParameters") or {}
        name, account = str(params.get("name", "")), str(params.get("account", ""))
        caller = str(
            ((event.get("requestContext") or {}).get("identity") or {}).get("accountId", "")
        )
        if not _NAME.fullmatch(name) or not _ACCOUNT.fullmatch(account):
            return _response(400, {"message": "path must be /pipelines/{12-digit account}/{name}"})
        ref = ParentRef(name, account)
        if caller != account:
            logger.warning(
                "refused: another account's pipeline",
                extra={"pipeline": str(ref), "caller": caller},
            )
            return _response(403, {"message": f"account {caller or '?'} cannot change {ref}"})
        if method == "DELETE":
            found = self.registry.deregister(ref)
            logger.info("deregistered", extra={"pipeline": str(ref), "found": found})
            if not found:
                return _response(404, {"message": f"{ref} is not registered"})
            return _response(200, {"pipeline": name, "account": account, "registered": False})
        if method != "PUT":
            return _response(400, {"message": f"unsupported method {method}"})
        return self._put(ref, event.get("body"))

    def _put(self, ref: ParentRef, raw_body: Any) -> dict[str, Any]:
        try:
            body = json.loads(raw_body or "{}")
        except json.JSONDecodeError as error:
            return _response(400, {"message": f"body is not JSON: {error}"})
        if not isinstance(body, dict):
            return _response(400, {"message": "body must be a JSON object"})
        arn = str(body.get("stateMachineArn", ""))
        match = _STATE_MACHINE_ARN.fullmatch(arn)
        expected_name = STATE_MACHINE_PREFIX + ref.name
        if match is None or match.group(1) != ref.account or match.group(2) != expected_name:
            return _response(
                400,
                {"message": f"stateMachineArn must name {expected_name} in account {ref.account}"},
            )
        condition = None
        if body.get("condition") is not None:
            try:
                condition = condition_from_json(body["condition"])
            except ConditionFormatError as error:
                return _response(400, {"message": str(error)})
        schedule = body.get("schedule")
        if schedule is not None and not isinstance(schedule, str):
            return _response(400, {"message": "schedule must be a string"})
        period = None
        if body.get("period") is not None:
            try:
                period = PeriodSpec.from_json(body["period"])
            except PeriodError as error:
                return _response(400, {"message": str(error)})
        try:
            dependents = _dependents(body.get("dependents"))
        except ValueError as error:
            return _response(400, {"message": str(error)})
        try:
            self.registry.register(Registration(ref, arn, condition, schedule, period, dependents))
        except DependentNotAllowedError as error:
            return _response(403, {"message": str(error)})
        except (CycleError, TooManyChildrenError, DependentsNarrowedError) as error:
            return _response(409, {"message": str(error)})
        except RegistryBusyError as error:
            return _response(503, {"message": str(error)})
        logger.info(
            "registered",
            extra={
                "pipeline": str(ref),
                "parents": [str(p) for p in (condition.parents if condition else ())],
            },
        )
        return _response(
            200,
            {
                "pipeline": ref.name,
                "account": ref.account,
                "registered": True,
                "condition": None if condition is None else condition_to_json(condition),
                "period": None if period is None else period.to_json(),
                "dependents": None if dependents is None else {"accounts": sorted(dependents)},
            },
        )


def _dependents(value: Any) -> frozenset[str] | None:
    """``{"accounts": [...]}`` → the accounts; None (absent or null) admits every account."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("dependents: expected {accounts: [12-digit account ids]}")
    unknown = sorted(set(value) - {"accounts"})
    if unknown:
        raise ValueError(f"dependents: unknown field(s) {', '.join(unknown)}")
    accounts = value.get("accounts", [])
    if not isinstance(accounts, list):
        raise ValueError("dependents.accounts: expected a list of account ids")
    for index, account in enumerate(accounts):
        if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
            raise ValueError(f"dependents.accounts[{index}]: expected a 12-digit account id")
    return frozenset(accounts)


_publisher: DependenciesPublisher | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _publisher
    if _publisher is None:
        registry = DynamoDbRegistry(
            os.environ[ENV_DEPENDENCIES_TABLE],
            build_client("dynamodb"),
            state_table=os.environ.get(ENV_TRIGGER_STATE_TABLE),
        )
        _publisher = DependenciesPublisher(registry)
    return _publisher.handle(event)
