"""What moto does not do, done from what was deployed: the emulated services
(``dpc.sandbox.services``), built and installed at the sandbox's endpoint
(``dpc.sandbox.endpoint``) here, and Step Functions' executions:

- ``StartExecution``: moto records the execution, the sandbox queues a run of its deployed
  definition (``dpc.sandbox.statemachine``); ``DescribeExecution``, ``ListExecutions``
  and ``GetExecutionHistory`` answer that run's status, virtual dates and history.

``PutEvents`` and the delivery of events are ``services.events`` and ``services.buses``,
schedules ``services.schedules``, Lambda ``services.lambdas``; SNS, the log
subscriptions and DynamoDB's throttling are ``services.sns``, ``services.logs`` and
``services.dynamodb``. ``dpc.sandbox.chaos`` injects AWS's documented faults at those
same places.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dpc import constants
from dpc.sandbox.bus import BusEvent
from dpc.sandbox.chaos import Chaos
from dpc.sandbox.clock import VirtualClock
from dpc.sandbox.endpoint import (
    Call,
    Endpoint,
    Response,
    json_error,
    json_response,
)
from dpc.sandbox.server import SandboxServer
from dpc.sandbox.services.buses import Buses
from dpc.sandbox.services.dynamodb import DynamoDb
from dpc.sandbox.services.events import PutEvents
from dpc.sandbox.services.lambdas import Lambdas
from dpc.sandbox.services.logs import Logs
from dpc.sandbox.services.schedules import Schedules
from dpc.sandbox.services.shared import DeployedStacks
from dpc.sandbox.services.sns import Topics
from dpc.sandbox.timeline import Note, StatusChange, Timeline

if TYPE_CHECKING:
    from dpc.sandbox.statemachine import ExecutionRun


@dataclass
class Runtime:
    server: SandboxServer
    clock: VirtualClock
    timeline: Timeline
    work_dir: Path
    organization_id: str | None = None
    """The organization the sandbox's accounts belong to (for ``aws:PrincipalOrgID``)."""
    faults: dict[tuple[str, str], str] = field(default_factory=dict)
    """(account, pipeline) → reason: the next step of that pipeline fails with this cause."""
    stacks: DeployedStacks = field(init=False)
    lambdas: Lambdas = field(init=False)
    topics: Topics = field(init=False)
    logs: Logs = field(init=False)
    buses: Buses = field(init=False)
    put_events: PutEvents = field(init=False)
    schedules: Schedules = field(init=False)
    dynamodb: DynamoDb = field(init=False)
    _executions: dict[str, ExecutionRun] = field(default_factory=dict)
    """Execution ARN → the sandbox's run of it: what Step Functions says of it is this."""
    _executions_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.stacks = DeployedStacks(self.server)
        self.lambdas = Lambdas(self.server, self.clock, self.timeline, self.stacks, self.work_dir)
        self.topics = Topics(self.server, self.clock, self.timeline, self.stacks, self.lambdas)
        self.logs = Logs(self.server, self.stacks, self.lambdas)
        self.buses = Buses(
            self.server,
            self.clock,
            self.timeline,
            self.stacks,
            self.lambdas,
            self.topics,
            self.organization_id,
        )
        self.put_events = PutEvents(self.server, self.clock, self.timeline, self.buses)
        self.schedules = Schedules(self.server, self.clock, self.buses)
        self.dynamodb = DynamoDb()

    @property
    def chaos(self) -> Chaos | None:
        """Faults to inject (``dpc demo --chaos SEED``); None: a clean run."""
        return self.lambdas.chaos

    @chaos.setter
    def chaos(self, chaos: Chaos | None) -> None:
        self.put_events.chaos = chaos
        self.buses.chaos = chaos
        self.lambdas.chaos = chaos
        self.dynamodb.chaos = chaos

    def invoke(self, function_arn: str, event: Any) -> Any:
        return self.lambdas.invoke(function_arn, event)

    # -- installation ----------------------------------------------------------------------

    def install(self, endpoint: Endpoint) -> Runtime:
        """Register the interceptions at ``endpoint`` and open the handlers' log."""
        for (service, operation), interception in {
            ("states", "StartExecution"): self._start_execution_call,
            ("states", "DescribeExecution"): self._describe_execution_call,
            ("states", "ListExecutions"): self._list_executions_call,
            ("states", "GetExecutionHistory"): self._execution_history_call,
        }.items():
            endpoint.intercept(service, operation, interception)
        self.put_events.install(endpoint)
        self.topics.install(endpoint)
        self.lambdas.install(endpoint)
        self.dynamodb.install(endpoint)
        return self

    def uninstall(self) -> None:
        self.lambdas.uninstall()

    # -- interceptions ---------------------------------------------------------------------

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
                from dpc.sandbox.statemachine import ExecutionRun

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

    def forget_stacks(self, account: str) -> None:
        """A stack of ``account`` was deployed or deleted: read its templates again."""
        self.stacks.forget(account)

    def note(self, text: str, level: str = "info") -> None:
        self.timeline.add(Note(self.clock.now, text, level))

    def envelope(self, **fields: Any) -> dict[str, Any]:
        return self.buses.envelope(**fields)

    def put_on_bus(self, event: BusEvent) -> None:
        self.buses.put_on_bus(event)

    def publish(self, topic_arn: str, message: str, subject: str | None) -> None:
        self.topics.publish(topic_arn, message, subject)

    def record_status(self, account: str, state_machine: str, execution: str, status: str) -> None:
        pipeline = state_machine.removeprefix(constants.STATE_MACHINE_PREFIX)
        self.timeline.add(StatusChange(self.clock.now, account, pipeline, execution, status))

    def log_subscribers(self, account: str, log_group: str) -> list[str]:
        return self.logs.log_subscribers(account, log_group)

    def deployed_log_group(self, account: str, state_machine_arn: str) -> str | None:
        return self.logs.deployed_log_group(account, state_machine_arn)

    def deliver_logs(self, destinations: list[str], log_group: str, messages: list[str]) -> None:
        self.logs.deliver_logs(destinations, log_group, messages)


_LISTED = ("status", "startDate", "stopDate")
"""What ListExecutions says of an execution that DescribeExecution says too."""


def _execution_arn(state_machine_arn: Any, name: str) -> str:
    """The ARN Step Functions gives execution ``name`` of that state machine
    (``arn:…:stateMachine:M`` → ``arn:…:execution:M:name``); "" for no state machine."""
    if not isinstance(state_machine_arn, str) or ":stateMachine:" not in state_machine_arn:
        return ""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"
