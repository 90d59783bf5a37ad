"""Step Functions, which moto records executions for but never runs: ``StartExecution``
queues a run of the deployed definition (``dpc.sandbox.statemachine``), and what
``DescribeExecution``, ``ListExecutions`` and ``GetExecutionHistory`` answer of an
execution (status, virtual dates, history) is that run's record."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dpc import constants
from dpc.sandbox.chaos import Chaos
from dpc.sandbox.clock import VirtualClock
from dpc.sandbox.endpoint import Call, Endpoint, Response, json_error, json_response
from dpc.sandbox.integrations import Bus, Functions, LogDelivery, Publisher
from dpc.sandbox.server import SandboxServer
from dpc.sandbox.services.shared import note
from dpc.sandbox.statemachine import ExecutionRun
from dpc.sandbox.timeline import StatusChange, Timeline


@dataclass
class States:
    """The runs of the executions, and what each run needs of its surroundings
    (``integrations.Integrations``): the clock, the faults to inject, the services its
    tasks call."""

    server: SandboxServer
    clock: VirtualClock
    timeline: Timeline
    work_dir: Path
    buses: Bus
    lambdas: Functions
    topics: Publisher
    logs: LogDelivery
    chaos: Chaos | None = None
    faults: dict[tuple[str, str], str] = field(default_factory=dict)
    """(account, pipeline) → reason: the next step of that pipeline fails with this cause."""
    _executions: dict[str, ExecutionRun] = field(default_factory=dict)
    """Execution ARN → the sandbox's run of it: what Step Functions says of it is this."""
    _executions_lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, endpoint: Endpoint) -> None:
        for operation, interception in {
            "StartExecution": self._start_execution_call,
            "DescribeExecution": self._describe_execution_call,
            "ListExecutions": self._list_executions_call,
            "GetExecutionHistory": self._execution_history_call,
        }.items():
            endpoint.intercept("states", operation, interception)

    def note(self, text: str, level: str = "info") -> None:
        note(self.timeline, self.clock, text, level)

    def record_status(self, account: str, state_machine: str, execution: str, status: str) -> None:
        pipeline = state_machine.removeprefix(constants.STATE_MACHINE_PREFIX)
        self.timeline.add(StatusChange(self.clock.now, account, pipeline, execution, status))

    def _start_execution_call(self, call: Call) -> Response:
        """moto records the execution (and refuses a bad name or input, or answers a repeat
        of a running one with it); the sandbox runs it. A finished execution's name is
        taken, as on Step Functions: moto, which never finishes one, cannot tell."""
        request = call.json()
        with self._executions_lock:
            name, machine = request.get("name"), request.get("stateMachineArn")
            finished = self._executions.get(_execution_arn(machine, name)) if name else None
            if finished is not None and finished.status != "RUNNING":
                return json_error(
                    "ExecutionAlreadyExists",
                    f"Execution Already Exists: '{finished.execution_arn}'",
                )
            answer = call.forward()
            if answer.status != 200:
                return answer
            execution_arn = answer.json()["executionArn"]
            run = self._executions.get(execution_arn)
            if run is None:
                run = ExecutionRun(
                    self,
                    execution_arn=execution_arn,
                    state_machine_arn=request["stateMachineArn"],
                    execution_input=request.get("input") or "{}",
                )
                self._executions[execution_arn] = run
                self.clock.soon(run.begin)
        # Started now on the virtual clock, as ListExecutions / DescribeExecution say from
        # this moment on: a status sweep at this same instant would otherwise re-send a
        # RUNNING from the future (moto writes the wall clock).
        return json_response(
            {"executionArn": execution_arn, "startDate": run.start_date.timestamp()}
        )

    def _describe_execution_call(self, call: Call) -> Response:
        answer = call.forward()
        run = self._executions.get(call.json().get("executionArn", ""))
        if answer.status != 200 or run is None:
            return answer
        return json_response({**answer.json(), **run.described()})

    def _list_executions_call(self, call: Call) -> Response:
        """moto lists the executions (and pages them); their status and dates are the
        sandbox's, so the status filter is applied here, to what moto listed unfiltered."""
        request = call.json()
        wanted = request.pop("statusFilter", None)
        answer = call.forward(json.dumps(request).encode())
        if answer.status != 200:
            return answer
        listing = answer.json()
        executions = []
        for listed in listing.get("executions", []):
            run = self._executions.get(listed["executionArn"])
            if run is not None:
                described = run.described()
                listed = {**listed, **{k: described[k] for k in described if k in _LISTED}}
            if wanted is None or listed["status"] == wanted:
                executions.append(listed)
        return json_response({**listing, "executions": executions})

    def _execution_history_call(self, call: Call) -> Response:
        request = call.json()
        run = self._executions.get(request.get("executionArn", ""))
        if run is None:
            return call.forward()
        events = run.api_history()
        if request.get("reverseOrder"):
            events.reverse()
        return json_response({"events": events})


_LISTED = ("status", "startDate", "stopDate")
"""What ListExecutions says of an execution that DescribeExecution says too."""


def _execution_arn(state_machine_arn: Any, name: str) -> str:
    """The ARN Step Functions gives execution ``name`` of that state machine
    (``arn:…:stateMachine:M`` → ``arn:…:execution:M:name``); "" for no state machine."""
    if not isinstance(state_machine_arn, str) or ":stateMachine:" not in state_machine_arn:
        return ""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"
