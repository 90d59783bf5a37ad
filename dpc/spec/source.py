"""Reading a YAML file into plain data plus the position of every value and key.

We compose YAML nodes (libyaml when available) instead of constructing Python objects, for
two reasons: every later error can point at the node's line and column, and we control how
aliases expand, so a "billion laughs" file or a self-referencing anchor is refused instead
of eating memory. libyaml itself refuses nesting deeper than 1,000 levels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dpc.spec.errors import Finding

MAX_FILE_BYTES = 1_000_000
"""A pipeline.yaml is a few kilobytes; anything this big is a mistake, refused before parsing."""
MAX_VALUES = 100_000
"""Values after expanding aliases; a real pipeline.yaml has a few hundred."""
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


class _TooBig(Exception):
    def __init__(self, node: Node, message: str) -> None:
        super().__init__(message)
        self.node = node


def _position(node: Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Turns a composed node graph into plain data, counting every value it produces."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.values: dict[JsonPath, Position] = {}
        self.keys: dict[JsonPath, Position] = {}
        self.findings: list[Finding] = []
        self.count = 0

    def build(self, node: Node, path: JsonPath) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise _TooBig(
                node, f"the file expands to more than {MAX_VALUES} values (YAML aliases?)"
            )
        if len(path) > MAX_DEPTH:
            raise _TooBig(node, f"values are nested deeper than {MAX_DEPTH} levels")
        # A mapping or list is best shown at the key that introduces it ("executions:"), not
        # at its first entry on the next line.
        container = isinstance(node, MappingNode | SequenceNode)
        where = self.keys.get(path) if container and path else None
        self.values.setdefault(path, where or _position(node))
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(child, (*path, index)) for index, child in enumerate(node.value)]
        return _scalar(node)

    def _mapping(self, node: MappingNode, path: JsonPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                merged.extend(self._merge_sources(value_node, path))
                continue
            if not isinstance(key_node, ScalarNode):
                self._add(key_node, path, "keys must be plain text, not a list or mapping")
                continue
            key = str(key_node.value)
            if key in result:
                first = self.keys[(*path, key)]
                self._add(
                    key_node, (*path, key), f"duplicate key (first written at line {first.line})"
                )
                continue
            self.keys[(*path, key)] = _position(key_node)
            result[key] = self.build(value_node, (*path, key))
        for key_node, value_node in merged:
            key = str(key_node.value)
            if isinstance(key_node, ScalarNode) and key not in result:
                self.keys[(*path, key)] = _position(key_node)
                result[key] = self.build(value_node, (*path, key))
        return result

    def _merge_sources(self, node: Node, path: JsonPath) -> list[tuple[Node, Node]]:
        """``<<: *defaults`` or ``<<: [*a, *b]``; earlier sources win, as in YAML 1.1."""
        sources = node.value if isinstance(node, SequenceNode) else [node]
        pairs: list[tuple[Node, Node]] = []
        for source in sources:
            if not isinstance(source, MappingNode):
                self._add(source, path, "'<<' merges mappings only")
                continue
            pairs.extend(source.value)
        return pairs

    def _add(self, node: Node, path: JsonPath, message: str) -> None:
        where = _position(node)
        self.findings.append(
            Finding(self.file, where.line, where.column, field_path(path), message)
        )


def _scalar(node: Node) -> Any:
    """Numbers, booleans and nulls as YAML 1.1 resolves them; everything else stays text
    (timestamps and custom tags included: no schema field wants them as objects)."""
    construct = _SCALARS.get(node.tag)
    if construct is None or not isinstance(node, ScalarNode):
        return str(node.value)
    try:
        return construct(node)
    except ValueError:  # e.g. an integer with more digits than Python converts
        return str(node.value)


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
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = " ".join(part for part in (error.context, error.problem) if part)
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        return None, [Finding(file, line, column, "", f"invalid YAML: {problem}")]
    except yaml.YAMLError as error:
        return None, [_file_error(file, f"invalid YAML: {error}")]
    if root is None:
        return None, [_file_error(file, "file is empty; a pipeline needs at least name and steps")]
    builder = _Builder(file)
    try:
        data = builder.build(root, ())
    except _TooBig as error:
        where = _position(error.node)
        return None, [Finding(file, where.line, where.column, "", str(error))]
    return Document(file, data, builder.values, builder.keys), builder.findings
