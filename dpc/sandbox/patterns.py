"""EventBridge event-pattern matching, as the sandbox needs it to deliver events.

moto keeps the deployed rules but does not deliver to Lambda or Step Functions targets, so
the sandbox decides which rules an event reaches with these semantics (the AWS "Content
filtering in Amazon EventBridge event patterns" rules):

- a pattern field holding an object matches the event's object at that field, recursively;
- a pattern field holding a list matches when the event's value (or, for an array value,
  any of its elements) matches any entry of the list: entries are exact values or filter
  objects (`prefix`, `suffix`, `equals-ignore-case`, `anything-but`, `exists`, `numeric`,
  `wildcard`);
- `$or` holds a list of sub-patterns of which one must match;
- every field of the pattern must match (AND); fields the pattern does not name are ignored;
- only `{"exists": false}` matches a field the event does not have.

moto's own matcher flattens the event and mishandles arrays of objects and empty objects,
which is why the sandbox does not reuse it.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

_MISSING = object()

_NUMERIC_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    "=": operator.eq,
    ">=": operator.ge,
    ">": operator.gt,
}


class InvalidPatternError(ValueError):
    """The pattern is not one EventBridge would accept (it names what is wrong)."""


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """True when ``event`` (the full event envelope, ``detail`` included) matches ``pattern``."""
    if not isinstance(pattern, Mapping):
        raise InvalidPatternError(f"a pattern must be an object, not {type(pattern).__name__}")
    return _match_object(pattern, event)


def _match_object(pattern: Mapping[str, Any], value: Any) -> bool:
    fields = value if isinstance(value, Mapping) else {}
    for key, expected in pattern.items():
        if key == "$or":
            if not isinstance(expected, list) or not expected:
                raise InvalidPatternError("$or must be a non-empty list of patterns")
            if not any(_match_object(alternative, fields) for alternative in expected):
                return False
        elif isinstance(expected, Mapping):
            if not _match_object(expected, fields.get(key, _MISSING)):
                return False
        elif isinstance(expected, list):
            if not expected:
                raise InvalidPatternError(f"{key}: empty arrays are not allowed")
            if not _match_leaf(expected, fields.get(key, _MISSING)):
                return False
        else:
            raise InvalidPatternError(f"{key}: must be an object or an array")
    return True


def _match_leaf(filters: Sequence[Any], value: Any) -> bool:
    if value is _MISSING:
        return any(_is_exists_false(f) for f in filters)
    candidates = value if isinstance(value, list) else [value]
    for flt in filters:
        if isinstance(flt, Mapping):
            if _match_filter(flt, candidates):
                return True
        elif any(_equal(flt, candidate) for candidate in candidates):
            return True
    return False


def _is_exists_false(flt: Any) -> bool:
    return isinstance(flt, Mapping) and flt.get("exists") is False


def _match_filter(flt: Mapping[str, Any], candidates: list[Any]) -> bool:
    if len(flt) != 1:
        raise InvalidPatternError(f"a filter object has exactly one operator: {dict(flt)}")
    ((name, argument),) = flt.items()
    if name == "exists":
        return bool(argument) and not all(isinstance(c, Mapping) for c in candidates)
    if name == "anything-but":
        return bool(candidates) and all(not _anything_but_hit(argument, c) for c in candidates)
    test = _value_test(name, argument)
    return any(test(candidate) for candidate in candidates)


def _anything_but_hit(argument: Any, candidate: Any) -> bool:
    """True when ``candidate`` is one of the things anything-but excludes."""
    if isinstance(argument, Mapping):
        ((name, inner),) = argument.items()
        return _value_test(name, inner)(candidate)
    if isinstance(argument, list):
        return any(_equal(excluded, candidate) for excluded in argument)
    return _equal(argument, candidate)


def _value_test(name: str, argument: Any) -> Callable[[Any], bool]:
    if name in ("prefix", "suffix"):
        ignore_case = isinstance(argument, Mapping) and "equals-ignore-case" in argument
        wanted = argument["equals-ignore-case"] if ignore_case else argument
        options = [wanted] if isinstance(wanted, str) else list(wanted)

        def affix(value: Any) -> bool:
            if not isinstance(value, str):
                return False
            text = value.lower() if ignore_case else value
            for option in options:
                option = option.lower() if ignore_case else option
                hit = text.startswith(option) if name == "prefix" else text.endswith(option)
                if hit:
                    return True
            return False

        return affix
    if name == "equals-ignore-case":
        options = [argument] if isinstance(argument, str) else list(argument)
        return lambda value: (
            isinstance(value, str) and any(value.lower() == option.lower() for option in options)
        )
    if name == "wildcard":
        # Only `*` is special in EventBridge wildcards (no `?` or character classes).
        regex = re.compile(".*".join(re.escape(part) for part in argument.split("*")), re.DOTALL)
        return lambda value: isinstance(value, str) and regex.fullmatch(value) is not None
    if name == "numeric":
        return _numeric_test(argument)
    raise InvalidPatternError(f"unsupported filter {name!r}")


def _numeric_test(argument: Any) -> Callable[[Any], bool]:
    if not isinstance(argument, list) or len(argument) % 2:
        raise InvalidPatternError(f"numeric takes operator/value pairs: {argument}")
    pairs = list(zip(argument[::2], argument[1::2], strict=True))
    for op, bound in pairs:
        if op not in _NUMERIC_OPERATORS or not _is_number(bound):
            raise InvalidPatternError(f"numeric: bad comparison {op!r} {bound!r}")

    def numeric(value: Any) -> bool:
        return _is_number(value) and all(_NUMERIC_OPERATORS[op](value, b) for op, b in pairs)

    return numeric


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(expected: Any, actual: Any) -> bool:
    """Exact match as EventBridge means it: 5 matches 5.0, but true never matches 1."""
    if _is_number(expected) and _is_number(actual):
        return bool(expected == actual)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(actual, Mapping | list):
        return False
    return bool(expected == actual)
