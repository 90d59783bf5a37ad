"""The JSON form of a Condition, as sent by the registration custom resource and the
dependency-management API, and stored in the registry.

Shape (keys in camelCase, like pipeline.yaml)::

    {
      "allOf": [{"name": "listings", "account": "111111111111", "status": ["SUCCEEDED"]}],
      "anyOf": [],
      "operator": "AND",
      "withinSeconds": 86400,          # optional
      "reset": {"cron": "0 0 * * ? *"} # optional
      "correlate": "period",           # optional, default latest (§5b)
      "rerun": "retrigger",            # optional, period only
      "keepSeconds": 3024000,          # optional, period only (default 35 days)
      "period": {"unit": "day", "offsetSeconds": 0}  # the child's own period (optional)
    }

An item may carry ``"every": true`` (period only).

Statuses are written in Step Functions spelling; ``SUCCESS`` is accepted on input.
Every account is explicit (12 digits): defaults are resolved before a condition is sent.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, cast

from dpc.triggers.cron import CronError, parse_cron
from dpc.triggers.model import STATUSES, Condition, Item, ParentRef, Status
from dpc.triggers.periods import (
    DEFAULT_KEEP,
    MAX_PERIOD_SPAN,
    MAX_WITHIN,
    PeriodError,
    PeriodSpec,
)

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
                **({"every": True} if i.every else {}),
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
    if condition.correlated:
        data["correlate"] = condition.correlate
        data["rerun"] = condition.rerun
        data["keepSeconds"] = int(condition.keep.total_seconds())
    if condition.period != PeriodSpec():
        data["period"] = condition.period.to_json()
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
        every = raw.get("every", False)
        if not isinstance(every, bool):
            raise ConditionFormatError(f"{at}.every: expected true or false")
        parsed.append(
            Item(
                ParentRef(name, account),
                frozenset(_status(s, f"{at}.status") for s in statuses),
                every,
            )
        )
    return tuple(parsed)


def _at_most(seconds: int, limit: timedelta, where: str) -> None:
    """pipeline.yaml's bound (validate checks the same), also keeping timedelta in range."""
    if seconds > limit.total_seconds():
        raise ConditionFormatError(
            f"{where}: at most {int(limit.total_seconds())} ({limit.days} days)"
        )


def condition_from_json(data: Any) -> Condition:
    if not isinstance(data, dict):
        raise ConditionFormatError("condition: expected an object")
    known = {"allOf", "anyOf", "operator", "withinSeconds", "reset", "correlate", "rerun"}
    unknown = set(data) - known - {"keepSeconds", "period"}
    if unknown:
        raise ConditionFormatError(f"condition: unknown field(s) {', '.join(sorted(unknown))}")
    operator = data.get("operator", "AND")
    if operator not in ("AND", "OR"):
        raise ConditionFormatError(f"condition.operator: '{operator}' is not AND or OR")
    within = data.get("withinSeconds")
    if within is not None and (not isinstance(within, int) or within <= 0):
        raise ConditionFormatError("condition.withinSeconds: expected a positive integer")
    if within is not None:
        _at_most(within, MAX_WITHIN, "condition.withinSeconds")
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
    correlate = data.get("correlate", "latest")
    if correlate not in ("latest", "period"):
        raise ConditionFormatError(f"condition.correlate: '{correlate}' is not latest or period")
    rerun = data.get("rerun", "retrigger")
    if rerun not in ("retrigger", "ignore"):
        raise ConditionFormatError(f"condition.rerun: '{rerun}' is not retrigger or ignore")
    keep = data.get("keepSeconds", int(DEFAULT_KEEP.total_seconds()))
    if not isinstance(keep, int) or isinstance(keep, bool) or keep <= 0:
        raise ConditionFormatError("condition.keepSeconds: expected a positive integer")
    _at_most(keep, MAX_PERIOD_SPAN, "condition.keepSeconds")
    try:
        period = PeriodSpec.from_json(data["period"]) if "period" in data else PeriodSpec()
    except PeriodError as error:
        raise ConditionFormatError(f"condition.{error}") from None
    condition = Condition(
        all_of=_items(data.get("allOf", []), "condition.allOf"),
        any_of=_items(data.get("anyOf", []), "condition.anyOf"),
        operator=operator,
        within=None if within is None else timedelta(seconds=within),
        reset_cron=reset_cron,
        correlate=correlate,
        rerun=rerun,
        keep=timedelta(seconds=keep),
        period=period,
    )
    if not condition.items:
        raise ConditionFormatError("condition: allOf and anyOf are both empty")
    return condition
