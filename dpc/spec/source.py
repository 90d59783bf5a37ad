"""Reading a YAML file into plain data plus the position of every value and key.

We build the data from the parser's event stream (libyaml when available) instead of letting
PyYAML construct objects: every later error can point at a line and column, and work is
bounded while reading. Each value counts once, an alias counts as the whole value it repeats,
and reading stops at MAX_VALUES — so a "billion laughs" file or a 1 MB list is refused after
a fraction of a second, in bounded memory. Aliases share the value they repeat (no copies).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode

from dpc.spec.errors import Finding

MAX_FILE_BYTES = 1_000_000
"""A pipeline.yaml is a few kilobytes; anything this big is a mistake, refused before parsing."""
MAX_VALUES = 20_000
"""Values (keys included) after expanding aliases; a real pipeline.yaml has a few hundred."""
MAX_DEPTH = 64

JsonPath = tuple[str | int, ...]

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_constructor = yaml.constructor.SafeConstructor()
_TAG = "tag:yaml.org,2002:"
_SCALARS: dict[str, Callable[[ScalarNode], Any]] = {
    _TAG + "int": _constructor.construct_yaml_int,
    _TAG + "float": _constructor.construct_yaml_float,
    _TAG + "bool": _constructor.construct_yaml_bool,
    _TAG + "null": lambda node: None,
}


@dataclass(frozen=True)
class Position:
    """1-based, as editors count."""

    line: int
    column: int


@dataclass(frozen=True)
class Document:
    """Plain data (dicts, lists, str, int, float, bool, None) and where each part was written."""

    file: Path
    data: Any
    values: Mapping[JsonPath, Position]
    keys: Mapping[JsonPath, Position]
    """Position of the key that introduces the value at this path (mappings only)."""

    def position(self, path: JsonPath) -> Position:
        """Where the value at ``path`` is, or its nearest written ancestor (for missing keys)."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return Position(1, 1)

    def key_position(self, path: JsonPath) -> Position:
        return self.keys.get(path) or self.position(path)

    def finding(self, path: JsonPath, message: str, *, at_key: bool = False) -> Finding:
        where = self.key_position(path) if at_key else self.position(path)
        return Finding(self.file, where.line, where.column, field_path(path), message)


def field_path(path: JsonPath) -> str:
    """``trigger.executions.allOf[0].status`` — how users think about a place in their file."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


class _Refused(Exception):
    """Reading stops: the file is too big once aliases expand, too deep, or self-referencing."""

    def __init__(self, position: Position, message: str) -> None:
        super().__init__(message)
        self.position = position


def _position(event: Event) -> Position:
    mark = event.start_mark
    return Position(mark.line + 1, mark.column + 1) if mark else Position(1, 1)


_SKIP = object()
"""Stands for a key that is not plain text: its value is read but not kept."""
_MERGE = object()
"""Stands for the merge key ``<<`` (unquoted): its value is merged into the mapping."""


@dataclass
class _Open:
    """A mapping or list whose end event has not come yet."""

    value: dict[str, Any] | list[Any] | None
    """None while reading something that is thrown away (a complex key and its value)."""
    path: JsonPath
    start: Position
    anchor: str | None
    count_at_start: int
    key: Any = None
    """Mappings: the key waiting for its value (None: the next scalar is a key)."""
    key_position: Position | None = None
    merges: list[tuple[Any, Position]] = field(default_factory=list)


class _Builder:
    """Plain data from parser events, with positions, counting every value it produces."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.values: dict[JsonPath, Position] = {}
        self.keys: dict[JsonPath, Position] = {}
        self.findings: list[Finding] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.stack: list[_Open] = []
        self.count = 0

    def read(self, loader: Any) -> Any:
        """The document's data; raises _Refused, yaml.YAMLError."""
        loader.get_event()  # stream start
        if loader.check_event(StreamEndEvent):
            return None
        loader.get_event()  # document start
        result: list[Any] = []
        while not loader.check_event(DocumentEndEvent):
            done = self._event(loader.get_event())
            if done is not None:
                result.append(done[0])
        loader.get_event()
        if loader.check_event(DocumentStartEvent):
            raise _Refused(
                _position(loader.peek_event()),
                "invalid YAML: expected a single document in the stream but found another document",
            )
        return result[0]

    def _event(self, event: Event) -> tuple[Any] | None:
        """Feed one event; returns (value,) when the root value is complete."""
        if isinstance(event, MappingEndEvent | SequenceEndEvent):
            closed = self.stack.pop()
            value = self._close(closed)
            size = self.count - closed.count_at_start
            if closed.anchor is not None:
                self.anchors[closed.anchor] = (value, size)
            return self._attach(value, closed.start, event)
        path = self._next_path()
        if isinstance(event, AliasEvent):
            if event.anchor not in self.anchors:
                open_anchors = {frame.anchor for frame in self.stack}
                problem = (
                    "refers to a value that contains it"
                    if event.anchor in open_anchors
                    else "is not defined above"
                )
                raise _Refused(_position(event), f"invalid YAML: alias *{event.anchor} {problem}")
            value, size = self.anchors[event.anchor]
            self._count(event, size)
            return self._attach(value, _position(event), event, path=path)
        self._count(event, 1)
        if isinstance(event, CollectionStartEvent):
            if path is not None and len(path) >= MAX_DEPTH:
                raise _Refused(
                    _position(event), f"values are nested deeper than {MAX_DEPTH} levels"
                )
            container: dict[str, Any] | list[Any] | None = None
            if path is not None:
                container = {} if isinstance(event, MappingStartEvent) else []
                # A mapping or list is best shown at the key that introduces it
                # ("executions:"), not at its first entry on the next line.
                self.values.setdefault(path, self.keys.get(path) or _position(event))
            self.stack.append(
                _Open(container, path or (), _position(event), event.anchor, self.count - 1)
            )
            return None
        assert isinstance(event, ScalarEvent)
        value = _scalar(event)
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, 1)
        return self._attach(value, _position(event), event, path=path)

    def _count(self, event: Event, size: int) -> None:
        self.count += size
        if self.count > MAX_VALUES:
            raise _Refused(
                _position(event),
                f"the file expands to more than {MAX_VALUES} values (YAML aliases?)",
            )

    def _next_path(self) -> JsonPath | None:
        """Where the next value goes; None when it is a key or is being thrown away."""
        if not self.stack:
            return ()
        top = self.stack[-1]
        if top.value is None:
            return None
        if isinstance(top.value, list):
            return (*top.path, len(top.value))
        if top.key is None or top.key is _SKIP:
            return None
        return (*top.path, top.key)

    def _attach(
        self,
        value: Any,
        position: Position | None,
        event: Event,
        *,
        path: JsonPath | None = None,
    ) -> tuple[Any] | None:
        if not self.stack:
            return (value,)
        top = self.stack[-1]
        if top.value is None:
            return None
        if isinstance(top.value, list):
            if path is not None and position is not None:
                self.values.setdefault(path, position)
            top.value.append(value)
            return None
        if top.key is None:
            self._take_key(top, event, position or _position(event))
            return None
        key, top.key = top.key, None
        if key is _SKIP:
            return None
        if key is _MERGE and top.key_position is not None:
            top.merges.append((value, top.key_position))
            return None
        if path is not None and position is not None:
            self.values.setdefault(path, position)
        top.value[key] = value
        return None

    def _take_key(self, top: _Open, event: Event, where: Position) -> None:
        assert isinstance(top.value, dict)
        if not isinstance(event, ScalarEvent):
            self._add(where, top.path, "keys must be plain text, not a list or mapping")
            top.key = _SKIP
            return
        key = str(event.value)
        if key == "<<" and event.tag in (None, _TAG + "merge") and event.implicit[0]:
            top.key, top.key_position = _MERGE, where
            return
        if key in top.value:
            first = self.keys[(*top.path, key)]
            self._add(
                where, (*top.path, key), f"duplicate key (first written at line {first.line})"
            )
            top.key = _SKIP
            return
        self.keys[(*top.path, key)] = where
        top.key = key

    def _close(self, closed: _Open) -> Any:
        """Apply ``<<`` merges (earlier sources win, written keys win over merged ones)."""
        result = closed.value
        if not isinstance(result, dict):
            return result
        for source, where in closed.merges:
            for mapping in source if isinstance(source, list) else [source]:
                if not isinstance(mapping, dict):
                    self._add(where, closed.path, "'<<' merges mappings only")
                    continue
                for key, value in mapping.items():
                    if key not in result:
                        self.keys[(*closed.path, key)] = where
                        self.values.setdefault((*closed.path, key), where)
                        result[key] = value
        return result

    def _add(self, where: Position, path: JsonPath, message: str) -> None:
        self.findings.append(
            Finding(self.file, where.line, where.column, field_path(path), message)
        )


def _scalar(event: ScalarEvent) -> Any:
    """Numbers, booleans and nulls as YAML 1.1 resolves them; everything else stays text
    (timestamps and custom tags included: no schema field wants them as objects)."""
    tag = event.tag
    if tag is None or tag == "!":
        tag = _resolve(ScalarNode, event.value, event.implicit)
    construct = _SCALARS.get(tag)
    if construct is None:
        return str(event.value)
    try:
        return construct(ScalarNode(tag, event.value))
    except ValueError:  # e.g. an integer with more digits than Python converts
        return str(event.value)


_resolve: Callable[[type[ScalarNode], str, tuple[bool, bool]], str] = (
    yaml.resolver.Resolver().resolve
)


def _file_error(file: Path, message: str) -> Finding:
    return Finding(file, 0, 0, "", message)


def read_document(file: Path) -> tuple[Document | None, list[Finding]]:
    """Read ``file``; a None document means nothing further can be checked."""
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, [
                _file_error(
                    file, f"file is {size:,} bytes; pipeline.yaml may be at most {MAX_FILE_BYTES:,}"
                )
            ]
        raw = file.read_bytes()
    except OSError as error:
        return None, [_file_error(file, f"cannot read: {error.strerror or error}")]
    if b"\0" in raw:
        return None, [_file_error(file, "not a text file (binary content); expected YAML")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return None, [_file_error(file, f"not UTF-8 text (bad byte at offset {error.start})")]
    builder = _Builder(file)
    loader = _Loader(text)
    try:
        data = builder.read(loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = " ".join(part for part in (error.context, error.problem) if part)
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        return None, [Finding(file, line, column, "", f"invalid YAML: {problem}")]
    except yaml.YAMLError as error:
        return None, [_file_error(file, f"invalid YAML: {error}")]
    except _Refused as error:
        return None, [Finding(file, error.position.line, error.position.column, "", str(error))]
    finally:
        loader.dispose()
    if data is None and not builder.values:
        return None, [_file_error(file, "file is empty; a pipeline needs at least name and steps")]
    return Document(file, data, builder.values, builder.keys), builder.findings
