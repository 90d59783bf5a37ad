"""Step Functions intrinsic functions, as the deployed state machines use them.

``States.Array``, ``States.Format`` and ``States.JsonToString``, with arguments that are
string literals (``'…'``, where ``\\'``, ``\\{``, ``\\}`` and ``\\\\`` are escapes), numbers,
``null``/``true``/``false``, JSONPaths (``$.dpc.period``, ``$$.Execution.Name``) or nested
calls. An unknown function or a malformed call is a ``States.Runtime`` error of the run,
as on Step Functions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

Resolve = Callable[[str], Any]
"""Reads a JSONPath (``$…`` or ``$$…``) from the state's input or the context object."""

_NUMBER = re.compile(r"-?\d+(\.\d+)?")


class IntrinsicError(ValueError):
    """The call cannot be evaluated (Step Functions fails the run with States.Runtime)."""


def is_intrinsic(text: str) -> bool:
    return text.startswith("States.")


def evaluate(text: str, resolve: Resolve) -> Any:
    parser = _Parser(text, resolve)
    value = parser.call()
    parser.skip_spaces()
    if parser.position != len(text):
        raise IntrinsicError(f"unexpected text after the call in {text!r}")
    return value


class _Parser:
    def __init__(self, text: str, resolve: Resolve) -> None:
        self.text = text
        self.position = 0
        self.resolve = resolve

    def skip_spaces(self) -> None:
        while self.position < len(self.text) and self.text[self.position] == " ":
            self.position += 1

    def call(self) -> Any:
        match = re.compile(r"States\.[A-Za-z]+").match(self.text, self.position)
        if match is None or self.text[match.end() : match.end() + 1] != "(":
            raise IntrinsicError(f"expected an intrinsic function call at {self.position}")
        name = match.group(0)
        self.position = match.end() + 1
        arguments: list[Any] = []
        self.skip_spaces()
        if self.text[self.position : self.position + 1] == ")":
            self.position += 1
        else:
            while True:
                arguments.append(self.argument())
                self.skip_spaces()
                separator = self.text[self.position : self.position + 1]
                self.position += 1
                if separator == ")":
                    break
                if separator != ",":
                    raise IntrinsicError(f"expected ',' or ')' in {self.text!r}")
        return _apply(name, arguments)

    def argument(self) -> Any:
        self.skip_spaces()
        rest = self.text[self.position :]
        if rest.startswith("'"):
            return self.string()
        if rest.startswith("States."):
            return self.call()
        if rest.startswith("$"):
            end = self.position
            depth = 0
            while end < len(self.text) and (depth or self.text[end] not in ",)"):
                depth += {"[": 1, "]": -1}.get(self.text[end], 0)
                end += 1
            path = self.text[self.position : end].strip()
            self.position = end
            return self.resolve(path)
        for literal, value in (("null", None), ("true", True), ("false", False)):
            if rest.startswith(literal):
                self.position += len(literal)
                return value
        number = _NUMBER.match(rest)
        if number:
            self.position += number.end()
            return json.loads(number.group(0))
        raise IntrinsicError(f"cannot read an argument at {self.position} of {self.text!r}")

    def string(self) -> str:
        self.position += 1
        characters: list[str] = []
        while self.position < len(self.text):
            character = self.text[self.position]
            if character == "\\" and self.position + 1 < len(self.text):
                characters.append(self.text[self.position + 1])
                self.position += 2
                continue
            if character == "'":
                self.position += 1
                return "".join(characters)
            characters.append(character)
            self.position += 1
        raise IntrinsicError(f"unterminated string in {self.text!r}")


def _format(template: str, values: list[Any]) -> str:
    pieces = re.split(r"(?<!\\)\{\}", template)
    if len(pieces) - 1 != len(values):
        raise IntrinsicError(f"States.Format: {len(pieces) - 1} placeholders, {len(values)} values")
    text = pieces[0]
    for value, piece in zip(values, pieces[1:], strict=True):
        text += (value if isinstance(value, str) else json.dumps(value)) + piece
    return text


def _apply(name: str, arguments: list[Any]) -> Any:
    if name == "States.Array":
        return arguments
    if name == "States.Format":
        if not arguments or not isinstance(arguments[0], str):
            raise IntrinsicError("States.Format needs a template string first")
        return _format(arguments[0], arguments[1:])
    if name == "States.JsonToString" and len(arguments) == 1:
        return json.dumps(arguments[0])
    raise IntrinsicError(f"the sandbox does not evaluate {name}")
