"""EventBridge event-pattern matching, as the sandbox needs it to deliver events.

moto keeps the deployed rules but does not deliver to Lambda or Step Functions targets, so
the sandbox decides which rules an event reaches itself. moto's own matcher walks the event
as nested objects and so misses arrays of objects, treats empty objects as matches and lets
invalid patterns through; a rule that behaved differently in the sandbox than on AWS would
make the sandbox lie about delivery. These semantics are therefore those of Event Ruler, the
open-source matcher EventBridge runs, checked against every example of the EventBridge user
guide's pattern pages (tests/unit/test_sandbox_patterns.py):

- The event is flattened into leaf values by dotted path: arrays are crushed (an array of
  objects contributes each element's fields to the same paths) and a key containing a dot
  names the same path as the nesting it spells. Each pattern field is matched on its own
  against every value at its path, so it matches if any one value does.
- A pattern is refused, whatever the event, when EventBridge's PutRule would refuse it, with
  a reason worded as EventBridge words it and the path where the pattern is wrong.
- An exact number matches the same JSON text (``300`` is not ``300.0`` nor ``3.0e2``, as
  EventBridge's "Considerations when creating event patterns" say); ``numeric`` compares
  values, within Ruler's range (-5e9..5e9, six decimals); booleans and null match only
  themselves.
"""

from __future__ import annotations

import ipaddress
import json
import operator
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, TypeGuard

_NUMERIC_LIMIT: Final = 5e9
_MAX_DECIMALS: Final = 6
_LOWER_BOUNDS: Final = (">", ">=")
_UPPER_BOUNDS: Final = ("<", "<=")
_COMPARISONS: Final[dict[str, Callable[[float, float], bool]]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_AFFIX_TYPE: Final = "prefix/suffix match pattern must be a string"
# anything-but's string filters, with the reason Ruler gives for a non-string among them
_STRING_SET_TYPE_ERRORS: Final = {
    "equals-ignore-case": (
        "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."
    ),
    "prefix": _AFFIX_TYPE,
    "suffix": _AFFIX_TYPE,
    "wildcard": "wildcard match pattern must be a string",
}
# Ruler only reads a string as an IP address when it has one of these shapes
_IPV4_SHAPE: Final = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6_SHAPE: Final = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")
# Ruler refuses these as field names inside `$or`, where they would be ambiguous with filters.
_RESERVED_IN_OR: Final = frozenset(
    {
        "exactly",
        "equals-ignore-case",
        "prefix",
        "suffix",
        "anything-but",
        "exists",
        "wildcard",
        "numeric",
        "cidr",
        "html",
        *_COMPARISONS,
        "regex",
        "not-wildcard",
        "not-equals-ignore-case",
        "date-after",
        "date-on-or-after",
        "date-before",
        "date-on-or-before",
        "in-date-range",
        "ip-address-in-range",
        "ip-address-not-in-range",
    }
)


class InvalidPatternError(ValueError):
    """The pattern is one EventBridge would refuse; the message says why and where."""

    def __init__(self, reason: str, path: str = "") -> None:
        where = f" at {path}" if path else ""
        super().__init__(f"Event pattern is not valid. Reason: {reason}{where}")
        self.reason = reason
        self.path = path


def validate(pattern: object) -> None:
    """Refuse ``pattern`` as EventBridge's PutRule would, without needing an event."""
    _compile(pattern)


def matches(pattern: object, event: Mapping[str, object]) -> bool:
    """True when ``event`` (the full envelope, ``detail`` included) matches ``pattern``.

    The whole pattern is validated first: EventBridge refuses an invalid rule outright, so an
    invalid filter must not hide behind a field the event happens to lack.
    """
    leaves: dict[str, list[object]] = {}
    _flatten(event, "", leaves)
    return any(
        all(field.accepts(leaves.get(path, [])) for path, field in branch.items())
        for branch in _compile(pattern)
    )


def _flatten(value: object, path: str, leaves: dict[str, list[object]]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(item, _join(path, str(key)), leaves)
    elif isinstance(value, list):
        for item in value:
            _flatten(item, path, leaves)
    else:
        leaves.setdefault(path, []).append(value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --- what a pattern compiles to ---


class _Filter(ABC):
    """One entry of a pattern field's array; the field matches if any entry accepts."""

    __slots__ = ()

    @abstractmethod
    def accepts(self, values: Sequence[object]) -> bool:
        """Whether the event's values at the field's path satisfy this entry."""


class _ValueFilter(_Filter):
    """A filter that looks at each value alone (all but `exists`)."""

    __slots__ = ()

    def accepts(self, values: Sequence[object]) -> bool:
        return any(self.hit(value) for value in values)

    @abstractmethod
    def hit(self, value: object) -> bool:
        """Whether this one leaf value matches."""


@dataclass(frozen=True, slots=True)
class _Field:
    filters: tuple[_Filter, ...]

    def accepts(self, values: Sequence[object]) -> bool:
        return any(f.accepts(values) for f in self.filters)


@dataclass(frozen=True, slots=True)
class _Exists(_Filter):
    """Presence of a leaf value: an object or an empty array at the path is not one."""

    present: bool

    def accepts(self, values: Sequence[object]) -> bool:
        return bool(values) is self.present


@dataclass(frozen=True, slots=True)
class _Exact(_ValueFilter):
    expected: str | int | float | bool | None

    def hit(self, value: object) -> bool:
        if _is_number(self.expected):
            return _is_number(value) and _same_number(self.expected, value)
        if isinstance(self.expected, bool) or self.expected is None:
            return value is self.expected
        return isinstance(value, str) and value == self.expected


@dataclass(frozen=True, slots=True)
class _Affix(_ValueFilter):
    """`prefix` or `suffix`, optionally ignoring case."""

    text: str
    at_start: bool
    ignore_case: bool

    def hit(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        text, wanted = (
            (value.lower(), self.text.lower()) if self.ignore_case else (value, self.text)
        )
        return text.startswith(wanted) if self.at_start else text.endswith(wanted)


@dataclass(frozen=True, slots=True)
class _EqualsIgnoreCase(_ValueFilter):
    text: str

    def hit(self, value: object) -> bool:
        return isinstance(value, str) and value.lower() == self.text.lower()


@dataclass(frozen=True, slots=True)
class _Wildcard(_ValueFilter):
    regex: re.Pattern[str]

    def hit(self, value: object) -> bool:
        return isinstance(value, str) and self.regex.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class _Numeric(_ValueFilter):
    conditions: tuple[tuple[str, float], ...]

    def hit(self, value: object) -> bool:
        return (
            _is_number(value)
            and abs(value) <= _NUMERIC_LIMIT
            and all(_COMPARISONS[op](value, bound) for op, bound in self.conditions)
        )


@dataclass(frozen=True, slots=True)
class _Cidr(_ValueFilter):
    """Ruler's range: from the address given (not the network's) to the top of its mask."""

    version: int
    low: int
    high: int

    def hit(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return False
        return address.version == self.version and self.low <= int(address) <= self.high


@dataclass(frozen=True, slots=True)
class _AnythingBut(_ValueFilter):
    """Matches each value none of ``excluded`` matches; a missing field has no such value."""

    excluded: tuple[_ValueFilter, ...]

    def hit(self, value: object) -> bool:
        return not any(e.hit(value) for e in self.excluded)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same_number(expected: float, actual: float) -> bool:
    """An exact match on a number compares its JSON text, as EventBridge does ("300, 300.0,
    and 3.0e2 are not considered equal"; only ``numeric`` compares values). Parsed JSON keeps
    whether a number had a fraction or exponent (float) or not (int), and that is the text."""
    return json.dumps(expected) == json.dumps(actual)


# --- compiling (and so validating) a pattern ---

_Branch = dict[str, _Field]


def _compile(pattern: object) -> list[_Branch]:
    """The pattern as alternative branches (``$or`` forks them), each field → its filters."""
    if not isinstance(pattern, Mapping):
        raise InvalidPatternError("Filter is not an object")
    return _object(pattern, "", [{}], inside_or=False)


def _object(
    obj: Mapping[str, object], path: str, branches: list[_Branch], *, inside_or: bool
) -> list[_Branch]:
    if not obj:
        raise InvalidPatternError("Empty objects are not allowed", path)
    for key, value in obj.items():
        if key == "$or":
            branches = _or(value, path, branches)
            continue
        here = _join(path, key)
        if inside_or and key in _RESERVED_IN_OR:
            raise InvalidPatternError(
                f"{key} is Ruler reserved fieldName which cannot be used inside $or.", here
            )
        if isinstance(value, Mapping):
            branches = _object(value, here, branches, inside_or=inside_or)
        elif isinstance(value, list):
            field = _field(value, here)
            # a later key for the same path wins, as in EventBridge
            branches = [{**branch, here: field} for branch in branches]
        else:
            raise InvalidPatternError(f'"{key}" must be an object or an array', here)
    return branches


def _or(alternatives: object, path: str, branches: list[_Branch]) -> list[_Branch]:
    where = _join(path, "$or")
    if not isinstance(alternatives, list):
        raise InvalidPatternError("It must be an Array followed with $or.", where)
    if not all(isinstance(a, Mapping) for a in alternatives):
        raise InvalidPatternError(
            "Only JSON object is allowed in array of $or relationship.", where
        )
    if len(alternatives) < 2:
        raise InvalidPatternError("There must have at least 2 Objects in $or relationship.", where)
    return [
        forked
        for alternative in alternatives
        for forked in _object(alternative, path, list(branches), inside_or=True)
    ]


def _field(entries: list[object], path: str) -> _Field:
    if not entries:
        raise InvalidPatternError("Empty arrays are not allowed", path)
    filters: list[_Filter] = []
    for entry in entries:
        if isinstance(entry, Mapping):
            filters.append(_filter(entry, path))
        elif entry is None or isinstance(entry, str | int | float):
            filters.append(_Exact(entry))
        else:
            raise InvalidPatternError(
                "Match value must be String, number, true, false, or null", path
            )
    return _Field(tuple(filters))


def _filter(expression: Mapping[str, object], path: str) -> _Filter:
    if not expression:
        raise InvalidPatternError("Match expression name not found", path)
    if len(expression) > 1:
        raise InvalidPatternError("Only one key allowed in match expression", path)
    ((name, argument),) = expression.items()
    if name in ("prefix", "suffix"):
        return _affix(name, argument, path)
    if name == "equals-ignore-case":
        return _EqualsIgnoreCase(_string(argument, "equals-ignore-case", path))
    if name == "wildcard":
        return _Wildcard(_wildcard(_string(argument, "wildcard", path), path))
    if name == "numeric":
        return _numeric(argument, path)
    if name == "anything-but":
        return _anything_but(argument, path)
    if name == "exists":
        if not isinstance(argument, bool):
            raise InvalidPatternError("exists match pattern must be either true or false.", path)
        return _Exists(argument)
    if name == "cidr":
        return _cidr(_string(argument, "cidr", path), path)
    raise InvalidPatternError(f"Unrecognized match type {name}", path)


def _string(argument: object, name: str, path: str) -> str:
    if not isinstance(argument, str):
        raise InvalidPatternError(f"{name} match pattern must be a string", path)
    return argument


def _affix(name: str, argument: object, path: str) -> _Affix:
    at_start = name == "prefix"
    if not isinstance(argument, Mapping):
        return _Affix(_string(argument, name, path), at_start, ignore_case=False)
    if not argument:
        raise InvalidPatternError(f"{name.capitalize()} expression name not found", path)
    if len(argument) > 1:
        raise InvalidPatternError("Only one key allowed in match expression", path)
    ((inner, text),) = argument.items()
    if inner != "equals-ignore-case":
        raise InvalidPatternError(f"Unsupported {name} pattern: {inner}", path)
    return _Affix(_string(text, "equals-ignore-case", path), at_start, ignore_case=True)


def _wildcard(text: str, path: str) -> re.Pattern[str]:
    """Only `*` is special; `\\*` and `\\\\` escape, any other backslash is refused.

    Positions in the reasons are Ruler's: UTF-8 bytes into the value with its opening quote.
    """
    parts: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        at = len(text[:position].encode()) + 1
        if char == "*":
            if text.startswith("**", position):
                raise InvalidPatternError(f"Consecutive wildcard characters at pos {at}", path)
            parts.append(".*")
        elif char == "\\":
            if text[position + 1 : position + 2] not in ("*", "\\"):
                raise InvalidPatternError(f"Invalid escape character at pos {at}", path)
            position += 1
            parts.append(re.escape(text[position]))
        else:
            parts.append(re.escape(char))
        position += 1
    return re.compile("".join(parts), re.DOTALL)


def _numeric(argument: object, path: str) -> _Numeric:
    """Ruler's grammar: ``= n``, ``< n``, ``<= n``, or ``>``/``>=`` n optionally then
    ``<``/``<=`` m; nothing else."""
    if not isinstance(argument, list):
        raise InvalidPatternError("Value of numeric must be an array.", path)
    terms: list[object] = argument
    if not terms or not isinstance(terms[0], str):
        member = terms[0] if terms else "]"
        raise InvalidPatternError(f"Invalid member in numeric match: {member}", path)
    first = terms[0]
    if first not in _COMPARISONS:
        raise InvalidPatternError(f"Unrecognized numeric range operator: {first}", path)
    conditions = [(first, _bound(first, terms[1:2], path))]
    if len(terms) > 2:
        if first not in _LOWER_BOUNDS:
            raise InvalidPatternError("Too many elements in numeric expression", path)
        second = terms[2]
        if not isinstance(second, str):
            raise InvalidPatternError(f"Bad value in numeric range: {second}", path)
        if second not in _UPPER_BOUNDS:
            raise InvalidPatternError(f"Bad numeric range operator: {second}", path)
        conditions.append((second, _bound(second, terms[3:4], path)))
        if len(terms) > 4:
            raise InvalidPatternError("Too many terms in numeric range expression", path)
    return _Numeric(tuple(conditions))


def _bound(op: str, value: Sequence[object], path: str) -> float:
    if not value or not _is_number(value[0]):
        raise InvalidPatternError(f"Value of {op} must be numeric", path)
    return _comparable(value[0], path)


def _comparable(number: float, path: str) -> float:
    """A number Ruler can compare: within ±5e9 and with at most six decimals."""
    if not abs(number) <= _NUMERIC_LIMIT:
        raise InvalidPatternError(
            "Value must be between -5000000000 and 5000000000, inclusive", path
        )
    exponent = Decimal(repr(number)).normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -_MAX_DECIMALS:
        raise InvalidPatternError("Only values upto 6 decimals are supported", path)
    return number


def _anything_but(argument: object, path: str) -> _AnythingBut:
    if isinstance(argument, Mapping):
        return _anything_but_set(argument, path)
    if isinstance(argument, str) or _is_number(argument):
        values: list[object] = [argument]
    elif isinstance(argument, list):
        values = argument
        if not all(isinstance(v, str) or _is_number(v) for v in values):
            raise InvalidPatternError(
                "Inside anything but list, start|null|boolean is not supported.", path
            )
        if len({isinstance(v, str) for v in values}) != 1:
            raise InvalidPatternError(
                "Inside anything but list, either all values are number or string, "
                "mixed type is not supported",
                path,
            )
    else:
        raise InvalidPatternError(
            "Value of anything-but must be an array or single string/number value.", path
        )
    excluded: list[_ValueFilter] = [
        _Exact(_comparable(value, path) if _is_number(value) else value)
        for value in values
        if isinstance(value, str | int | float)
    ]
    return _AnythingBut(tuple(excluded))


def _anything_but_set(argument: Mapping[str, object], path: str) -> _AnythingBut:
    """anything-but over `equals-ignore-case`, `prefix`, `suffix` or `wildcard`: one
    string or a list of them."""
    if not argument:
        raise InvalidPatternError("Anything-But expression name not found", path)
    if len(argument) > 1:
        raise InvalidPatternError("Only one key allowed in match expression", path)
    ((name, inner),) = argument.items()
    if name not in _STRING_SET_TYPE_ERRORS:
        raise InvalidPatternError(f"Unsupported anything-but pattern: {name}", path)
    if isinstance(inner, list):
        texts: list[object] = inner
    elif isinstance(inner, str) or _is_number(inner):
        texts = [inner]
    else:
        raise InvalidPatternError(
            "Value of anything-but must be an array or single string/number value.", path
        )
    excluded: list[_ValueFilter] = []
    for text in texts:
        if not isinstance(text, str):
            raise InvalidPatternError(_STRING_SET_TYPE_ERRORS[name], path)
        if name == "equals-ignore-case":
            excluded.append(_EqualsIgnoreCase(text))
        elif name == "wildcard":
            excluded.append(_Wildcard(_wildcard(text, path)))
        elif not text:
            raise InvalidPatternError("Null prefix/suffix not allowed", path)
        else:
            excluded.append(_Affix(text, at_start=name == "prefix", ignore_case=False))
    return _AnythingBut(tuple(excluded))


def _cidr(text: str, path: str) -> _Cidr:
    address, slash, mask = text.partition("/")
    if not slash or not mask or "/" in mask:
        raise InvalidPatternError("Malformed CIDR, one '/' required", path)
    if re.fullmatch(r"[+-]?[0-9]+", mask) is None:
        raise InvalidPatternError("Malformed CIDR, mask bits must be an integer", path)
    bits = int(mask)
    if bits < 0:
        raise InvalidPatternError("Malformed CIDR, mask bits must not be negative", path)
    if not (_IPV4_SHAPE.fullmatch(address) or _IPV6_SHAPE.fullmatch(address)):
        raise InvalidPatternError(f"Nonstandard IP address: {address}", path)
    try:
        base = ipaddress.ip_address(address)
    except ValueError:
        raise InvalidPatternError(f"Invalid IP address: {address}", path) from None
    # Ruler's own limits: a full-length mask is refused, not taken as a single address
    if base.version == 4 and bits > 31:
        raise InvalidPatternError("IPv4 mask bits must be < 32", path)
    if base.version == 6 and bits > 127:
        raise InvalidPatternError("IPv6 mask bits must be < 128", path)
    host_bits = base.max_prefixlen - bits
    return _Cidr(base.version, int(base), int(base) | ((1 << host_bits) - 1))
