"""The JSON form of a Condition, as sent by the registration custom resource and the
dependency-management API, and stored in the registry.

Shape (keys in camelCase, like pipeline.yaml)::

    {
      "allOf": [{"name": "listings", "account": "111111111111", "status": ["SUCCEEDED"]}],
      "anyOf": [],
      "operator": "AND",
      "withinSeconds": 86400,          # optional
      "reset": {"cron": "0 0 * * ? *"} # optional
    }

Statuses are written in Step Functions spelling; ``SUCCESS`` is accepted on input.
Every account is explicit (12 digits): defaults are resolved before a condition is sent.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, cast

from dpc.triggers.cron import CronError, parse_cron
from dpc.triggers.model import STATUSES, Condition, Item, ParentRef, Status

_ACCOUNT = re.compile(r"\d{12}")


class ConditionFormatError(ValueError):
    """A JSON condition that does not have the documented shape; the message names the field."""


def condition_to_json(condition: Condition) -> dict[str, Any]:
    def items(block: tuple[Item, ...]) -> list[dict[str, Any]]:
        return [
            {
                "name": i.parent.name,
                "account": i.parent.account,
                "status": sorted(i.statuses, key=STATUSES.index),
            }
            for i in block
        ]

    data: dict[str, Any] = {
        "allOf": items(condition.all_of),
        "anyOf": items(condition.any_of),
        "operator": condition.operator,
    }
    if condition.within is not None:
        data["withinSeconds"] = int(condition.within.total_seconds())
    if condition.reset_cron is not None:
        data["reset"] = {"cron": condition.reset_cron}
    return data


def _status(value: Any, where: str) -> Status:
    spelled = "SUCCEEDED" if value == "SUCCESS" else value
    if spelled not in STATUSES:
        raise ConditionFormatError(
            f"{where}: '{value}' is not one of SUCCESS, {', '.join(STATUSES)}"
        )
    return cast(Status, spelled)


def _items(data: Any, where: str) -> tuple[Item, ...]:
    if not isinstance(data, list):
        raise ConditionFormatError(f"{where}: expected a list of items")
    parsed = []
    for index, raw in enumerate(data):
        at = f"{where}[{index}]"
        if not isinstance(raw, dict):
            raise ConditionFormatError(f"{at}: expected an object with name, account, status")
        name, account, statuses = raw.get("name"), raw.get("account"), raw.get("status")
        if not isinstance(name, str) or not name:
            raise ConditionFormatError(f"{at}.name: expected a pipeline name")
        if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
            raise ConditionFormatError(f"{at}.account: expected a 12-digit account id")
        if not isinstance(statuses, list) or not statuses:
            raise ConditionFormatError(f"{at}.status: expected a non-empty list of statuses")
        parsed.append(
            Item(
                ParentRef(name, account),
                frozenset(_status(s, f"{at}.status") for s in statuses),
            )
        )
    return tuple(parsed)


def condition_from_json(data: Any) -> Condition:
    if not isinstance(data, dict):
        raise ConditionFormatError("condition: expected an object")
    unknown = set(data) - {"allOf", "anyOf", "operator", "withinSeconds", "reset"}
    if unknown:
        raise ConditionFormatError(f"condition: unknown field(s) {', '.join(sorted(unknown))}")
    operator = data.get("operator", "AND")
    if operator not in ("AND", "OR"):
        raise ConditionFormatError(f"condition.operator: '{operator}' is not AND or OR")
    within = data.get("withinSeconds")
    if within is not None and (not isinstance(within, int) or within <= 0):
        raise ConditionFormatError("condition.withinSeconds: expected a positive integer")
    reset = data.get("reset")
    reset_cron = None
    if reset is not None:
        if not isinstance(reset, dict) or not isinstance(reset.get("cron"), str):
            raise ConditionFormatError('condition.reset: expected {"cron": "<cron expression>"}')
        reset_cron = reset["cron"]
        try:
            parse_cron(reset_cron)
        except CronError as error:
            raise ConditionFormatError(f"condition.reset.cron: {error}") from None
    condition = Condition(
        all_of=_items(data.get("allOf", []), "condition.allOf"),
        any_of=_items(data.get("anyOf", []), "condition.anyOf"),
        operator=operator,
        within=None if within is None else timedelta(seconds=within),
        reset_cron=reset_cron,
    )
    if not condition.items:
        raise ConditionFormatError("condition: allOf and anyOf are both empty")
    return condition
