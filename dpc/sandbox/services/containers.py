"""A Lambda function's container, in-process: what a handler sees of the world it runs in
(its context object, its own default boto3 session, a clock at the sandbox's virtual time)
and where its output goes (the sandbox's lambda.log, never the timeline's stdout)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dpc.sandbox.clock import VirtualClock

Handler = Callable[[Any, Any], Any]


class LambdaContext:
    """The parts of the Lambda context object handlers and Powertools read."""

    def __init__(self, function_arn: str, function_name: str, memory: int, timeout: int) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function_arn
        self.memory_limit_in_mb = memory
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "sandbox"
        self._timeout_ms = timeout * 1000

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_ms


@dataclass
class Containers:
    clock: VirtualClock
    _handlers: dict[str, Handler] = field(default_factory=dict)

    def handler(self, function_arn: str, handler: str) -> Handler:
        """The handler of one function's warm container: its module is loaded once per
        function and sandbox, so what a handler caches (clients, settings) belongs to that
        function's account and to this sandbox's endpoint, as on Lambda."""
        if function_arn not in self._handlers:
            self._handlers[function_arn] = _load_handler(handler, self.clock)
        return self._handlers[function_arn]


class _Sink(io.TextIOBase):
    """Where handlers' stdout goes: the running sandbox's lambda.log, or nowhere. Loggers
    keep the stream they were created with, so this one object outlives every sandbox."""

    target: Any = None

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.target is not None and not self.target.closed:
            self.target.write(text)
        return len(text)


LAMBDA_STDOUT = _Sink()


@contextmanager
def default_session(session: Any) -> Iterator[None]:
    """``boto3.client()`` uses a process-wide default session that caches the credentials
    it found first; each Lambda has its own process on AWS, so each invocation here gets
    its function's account as the default session."""
    import boto3

    previous = boto3.DEFAULT_SESSION
    boto3.DEFAULT_SESSION = session
    try:
        yield
    finally:
        boto3.DEFAULT_SESSION = previous


@contextmanager
def quiet() -> Iterator[None]:
    """A handler's logs go to the sandbox's lambda.log, never to the timeline's stdout:
    print() through the redirect, loggers (Powertools binds its handler to the stdout of
    the first import, maybe long before the sandbox) by re-pointing their stream."""
    stdout = sys.stdout
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    handlers = [
        handler
        for logger in loggers
        for handler in getattr(logger, "handlers", [])
        if isinstance(handler, logging.StreamHandler) and handler.stream in (stdout, sys.__stdout__)
    ]
    for handler in handlers:
        handler.setStream(LAMBDA_STDOUT)
    try:
        with contextlib.redirect_stdout(LAMBDA_STDOUT):
            yield
    finally:
        for handler in handlers:
            handler.setStream(stdout)


def _virtual_datetime(clock: VirtualClock) -> type[datetime]:
    class VirtualDatetime(datetime):
        """``datetime`` whose now() is the sandbox's virtual time."""

        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return clock.now.astimezone(tz) if tz else clock.now.replace(tzinfo=None)

        @classmethod
        def utcnow(cls) -> Any:
            return clock.now.replace(tzinfo=None)

    return VirtualDatetime


def _load_handler(name: str, clock: VirtualClock) -> Handler:
    """A fresh instance of the handler's module (a cold start), whatever was imported before.

    Its wall clock is the virtual clock: the module's ``datetime`` answers ``now()`` with
    the sandbox's time, as a Lambda's clock is the time of the world it runs in. Otherwise
    the trigger manager would judge resets (§5 rule 8) by the real date while the events
    it judges are from the story's days."""
    module_name, function = name.rsplit(".", 1)
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"handler module {module_name} not found")
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(module_name)
    sys.modules[module_name] = module  # dataclasses and typing look the module up by name
    try:
        spec.loader.exec_module(module)
    finally:
        if previous is not None:
            sys.modules[module_name] = previous
        else:
            del sys.modules[module_name]
    if getattr(module, "datetime", None) is datetime:
        module.datetime = _virtual_datetime(clock)  # type: ignore[attr-defined]
    handler: Handler = getattr(module, function)
    return handler
