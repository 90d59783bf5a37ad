"""The dependencies-publisher Lambda behind the dependency-management API (REST, IAM auth).

Routes::

    PUT    /pipelines/{account}/{name}   body {"stateMachineArn": ..., "condition": <JSON form,
                                               see dpc.triggers.codec> | null, "schedule": ...,
                                               "period": {"unit", "offsetSeconds"} | null,
                                               "dependents": {"accounts": [...]} | null,
                                               "expect": "06:00" | "45m" | null}
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

import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from dpc.constants import ENV_DEPENDENCIES_TABLE, ENV_TRIGGER_STATE_TABLE, STATE_MACHINE_PREFIX
from dpc.lambdas.apigw import ApiError, ApiRequest, pipeline_name, response
from dpc.lambdas.clients import client as build_client
from dpc.lambdas.due_index import watch
from dpc.lambdas.registry import (
    CycleError,
    DependentNotAllowedError,
    DependentsNarrowedError,
    DynamoDbRegistry,
    Registration,
    RegistryBusyError,
    TooManyChildrenError,
    TooManyParentsError,
)
from dpc.schemas import account_pattern, pipeline_schema
from dpc.triggers.codec import ConditionFormatError, condition_from_json, condition_to_json
from dpc.triggers.deadlines import DeadlineError, Expect, parse_expect
from dpc.triggers.model import Condition, ParentRef
from dpc.triggers.periods import PeriodError, PeriodSpec

logger = Logger(service="dpc-dependencies-publisher")

MAX_DEPENDENT_ACCOUNTS = int(
    pipeline_schema()["properties"]["dependents"]["properties"]["accounts"]["maxItems"]
)
"""pipeline.yaml's bound on ``dependents.accounts``."""

MAX_SCHEDULE_CHARS = 256
"""EventBridge's limit for a schedule expression."""
_STATE_MACHINE_ARN = re.compile(r"arn:aws[a-z-]*:states:[a-z0-9-]+:(\d{12}):stateMachine:(.+)")


class DependenciesPublisher:
    def __init__(self, registry: DynamoDbRegistry) -> None:
        self.registry = registry

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        try:
            request = ApiRequest.from_event(event)
            ref = request.path_pipeline()
            if request.caller_account != ref.account:
                logger.warning(
                    "refused: another account's pipeline",
                    extra={"pipeline": str(ref), "caller": request.caller_account},
                )
                raise ApiError(403, f"account {request.caller_account} cannot change {ref}")
            if request.method == "DELETE":
                return self._delete(ref)
            if request.method != "PUT":
                raise ApiError(400, f"unsupported method {request.method}")
            return self._put(ref, request)
        except ApiError as error:
            return response(error.status, {"message": str(error)})

    def _delete(self, ref: ParentRef) -> dict[str, Any]:
        found = self.registry.deregister(ref)
        logger.info("deregistered", extra={"pipeline": str(ref), "found": found})
        if not found:
            raise ApiError(404, f"{ref} is not registered")
        return response(200, {"pipeline": ref.name, "account": ref.account, "registered": False})

    def _put(self, ref: ParentRef, request: ApiRequest) -> dict[str, Any]:
        body = request.body
        arn = str(body.get("stateMachineArn", ""))
        match = _STATE_MACHINE_ARN.fullmatch(arn)
        expected_name = STATE_MACHINE_PREFIX + ref.name
        if match is None or match.group(1) != ref.account or match.group(2) != expected_name:
            raise ApiError(
                400, f"stateMachineArn must name {expected_name} in account {ref.account}"
            )
        condition = None
        if body.get("condition") is not None:
            try:
                condition = condition_from_json(body["condition"])
            except ConditionFormatError as error:
                raise ApiError(400, str(error)) from None
            _check_parent_names(condition)
        schedule = body.get("schedule")
        if schedule is not None and not isinstance(schedule, str):
            raise ApiError(400, "schedule must be a string")
        if schedule is not None and len(schedule) > MAX_SCHEDULE_CHARS:
            raise ApiError(400, f"schedule: at most {MAX_SCHEDULE_CHARS} characters")
        period = None
        if body.get("period") is not None:
            try:
                period = PeriodSpec.from_json(body["period"])
            except PeriodError as error:
                raise ApiError(400, str(error)) from None
        try:
            dependents = _dependents(body.get("dependents"))
            expect = _expect(body.get("expect"))
        except ValueError as error:
            raise ApiError(400, str(error)) from None
        registration = Registration(ref, arn, condition, schedule, period, dependents, expect)
        try:
            self.registry.register(registration)
        except TooManyParentsError as error:
            raise ApiError(400, str(error)) from None
        except DependentNotAllowedError as error:
            raise ApiError(403, str(error)) from None
        except (CycleError, TooManyChildrenError, DependentsNarrowedError) as error:
            raise ApiError(409, str(error)) from None
        except RegistryBusyError as error:
            raise ApiError(503, str(error)) from None
        if self.registry.state_table is not None:
            # Its deadlines are watched from the first period due after now (late alerts).
            watch(self.registry.client, self.registry.state_table, registration, datetime.now(UTC))
        logger.info(
            "registered",
            extra={
                "pipeline": str(ref),
                "parents": [str(p) for p in (condition.parents if condition else ())],
            },
        )
        return response(
            200,
            {
                "pipeline": ref.name,
                "account": ref.account,
                "registered": True,
                "condition": None if condition is None else condition_to_json(condition),
                "period": None if period is None else period.to_json(),
                "dependents": None if dependents is None else {"accounts": sorted(dependents)},
                "expect": None if expect is None else str(expect),
            },
        )


def _check_parent_names(condition: Condition) -> None:
    """The codec checks a condition's shape; a parent's name follows pipeline.yaml's rule."""
    for block, items in (("allOf", condition.all_of), ("anyOf", condition.any_of)):
        for index, item in enumerate(items):
            pipeline_name(item.parent.name, f"condition.{block}[{index}].name")


def _expect(value: Any) -> Expect | None:
    """pipeline.yaml's ``expect.by`` as text (``06:00``, ``45m``); None: no deadline."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("expect: expected a string such as 06:00 or 45m")
    try:
        return parse_expect(value)
    except DeadlineError as error:
        raise ValueError(f"expect: {error}") from None


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
    if len(accounts) > MAX_DEPENDENT_ACCOUNTS:
        raise ValueError(f"dependents.accounts: at most {MAX_DEPENDENT_ACCOUNTS} accounts")
    for index, account in enumerate(accounts):
        if not isinstance(account, str) or not account_pattern().fullmatch(account):
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
