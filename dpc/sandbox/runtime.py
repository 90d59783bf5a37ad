"""What moto does not do, done from what was deployed: delivery, Lambda, state machines.

moto keeps buses, rules, targets, functions and state machines but delivers no event to
a Lambda or Step Functions target, runs no handler and no state machine, and never checks
a bus policy. ``Runtime.install()`` registers interceptions at the sandbox's endpoint
(``dpc.sandbox.endpoint``), keyed on the API operation, so every caller meets them:

- ``PutEvents`` (answered here, not by moto): validated as EventBridge validates, a
  cross-account put the target bus's deployed policy does not admit is refused, and what
  is accepted is queued for delivery on the virtual clock;
- ``StartExecution``: moto records the execution, the sandbox queues a run of its deployed
  definition (``dpc.sandbox.statemachine``); ``DescribeExecution``, ``ListExecutions``
  and ``GetExecutionHistory`` answer that run's status, virtual dates and history.

What a target cannot take goes to its dead-letter queue with EventBridge's attributes
(RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE). ``dpc.sandbox.chaos`` injects AWS's
documented faults at those same places. Lambda, invoked here and by ``Invoke``, is
``dpc.sandbox.services.lambdas``; SNS, the log subscriptions and DynamoDB's throttling
are ``services.sns``, ``services.logs`` and ``services.dynamodb``.

Delivery reads the bus's rules and targets through the EventBridge API of the bus's
account, matches the deployed patterns (``dpc.sandbox.patterns``), applies each target's
Input / InputPath / InputTransformer, and sends to Lambda (the handler named by the
deployed function, run in-process with the function's environment and its account's
credentials), Step Functions (StartExecution), another bus (after that bus's policy
admits the rule's account), SQS and SNS. The original ``account`` of a forwarded event is
kept, as on AWS: the trigger manager trusts nothing else.
"""

from __future__ import annotations

import functools
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dpc import constants
from dpc.operate.rule_input import render_template
from dpc.sandbox import policies
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
from dpc.sandbox.jsonpath import json_path
from dpc.sandbox.patterns import matches
from dpc.sandbox.server import SandboxServer
from dpc.sandbox.services.dynamodb import DynamoDb
from dpc.sandbox.services.lambdas import Lambdas
from dpc.sandbox.services.logs import Logs
from dpc.sandbox.services.shared import Arn, DeployedStacks, send_to_queue
from dpc.sandbox.services.sns import Topics
from dpc.sandbox.timeline import Note, StatusChange, Timeline, TriggerPublished, iso

if TYPE_CHECKING:
    from dpc.sandbox.statemachine import ExecutionRun

MAX_ENTRIES = 10


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
    dynamodb: DynamoDb = field(init=False)
    _execution_names: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    _executions: dict[str, ExecutionRun] = field(default_factory=dict)
    """Execution ARN → the sandbox's run of it: what Step Functions says of it is this."""
    _executions_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.stacks = DeployedStacks(self.server)
        self.lambdas = Lambdas(self.server, self.clock, self.timeline, self.stacks, self.work_dir)
        self.topics = Topics(self.server, self.clock, self.timeline, self.stacks, self.lambdas)
        self.logs = Logs(self.server, self.stacks, self.lambdas)
        self.dynamodb = DynamoDb()

    @property
    def chaos(self) -> Chaos | None:
        """Faults to inject (``dpc demo --chaos SEED``); None: a clean run."""
        return self.lambdas.chaos

    @chaos.setter
    def chaos(self, chaos: Chaos | None) -> None:
        self.lambdas.chaos = chaos
        self.dynamodb.chaos = chaos

    def invoke(self, function_arn: str, event: Any) -> Any:
        return self.lambdas.invoke(function_arn, event)

    # -- installation ----------------------------------------------------------------------

    def install(self, endpoint: Endpoint) -> Runtime:
        """Register the interceptions at ``endpoint`` and open the handlers' log."""
        for (service, operation), interception in {
            ("events", "PutEvents"): self._put_events_call,
            ("states", "StartExecution"): self._start_execution_call,
            ("states", "DescribeExecution"): self._describe_execution_call,
            ("states", "ListExecutions"): self._list_executions_call,
            ("states", "GetExecutionHistory"): self._execution_history_call,
        }.items():
            endpoint.intercept(service, operation, interception)
        self.topics.install(endpoint)
        self.lambdas.install(endpoint)
        self.dynamodb.install(endpoint)
        return self

    def uninstall(self) -> None:
        self.lambdas.uninstall()

    # -- interceptions ---------------------------------------------------------------------

    def _put_events_call(self, call: Call) -> Response:
        """Answered here, never by moto, whose delivery stops at Lambda and Step Functions
        targets: what is accepted is queued for delivery on the virtual clock."""
        sender = self.server.account_of_key(call.access_key)
        try:
            results = self._put_events(sender, call.region, call.json().get("Entries", []))
        except _Refused as refused:
            return json_error(refused.code, refused.message)
        failed = sum(1 for result in results if "ErrorCode" in result)
        return json_response({"FailedEntryCount": failed, "Entries": results})

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

    # -- PutEvents -------------------------------------------------------------------------

    def _put_events(
        self, sender: str, region: str, events: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Runs on a server thread: check, answer, and queue; deliver nothing here."""
        if len(events) > MAX_ENTRIES:
            raise _Refused(
                "ValidationException",
                "1 validation error detected: Value '[PutEventsRequestEntry]' at 'entries' "
                "failed to satisfy constraint: Member must have length less than or equal to 10",
            )
        if (
            self.chaos
            and events
            and all(e.get("Source") == constants.TRIGGER_EVENT_SOURCE for e in events)
            and self.chaos.crashes_before_publish()
        ):
            # The invocation dies after committing its triggers and before they reach the
            # bus: nothing of this call is accepted, and its caller fails as a crash would.
            self.note(
                f"chaos: {sender}'s invocation crashed between recording {len(events)} "
                "trigger(s) and publishing them",
                "chaos",
            )
            raise _Refused("ChaosCrash", "the invocation crashed before publishing")
        results = []
        for entry in events:
            problem = _entry_problem(entry)
            if problem:
                results.append(problem)
                continue
            if self.chaos and self.chaos.fails_put_events_entry():
                results.append(
                    {"ErrorCode": "InternalFailure", "ErrorMessage": "Internal service error"}
                )
                continue
            bus_account, bus_region, bus_name = self._bus_of(sender, region, entry)
            if bus_account != sender and not self.bus_admits(
                bus_account, bus_region, bus_name, sender
            ):
                self.note(
                    f"refused: account {sender} may not put events on {bus_name} of "
                    f"{bus_account} ({entry.get('DetailType')})",
                    "refused",
                )
                results.append(
                    {
                        "ErrorCode": "AccessDeniedException",
                        "ErrorMessage": f"Account {sender} is not authorized to put events "
                        f"on event bus {bus_name} of account {bus_account}",
                    }
                )
                continue
            envelope = self.envelope(
                source=entry["Source"],
                detail_type=entry["DetailType"],
                detail=json.loads(entry["Detail"]),
                account=sender,
                region=region,
                resources=entry.get("Resources", []),
                time=_entry_time(entry.get("Time")),
            )
            if bus_account == sender:
                self._record_trigger(envelope)
            self.put_on_bus(BusEvent(bus_account, bus_region, bus_name, envelope))
            results.append({"EventId": envelope["id"]})
        return results

    @staticmethod
    def _bus_of(sender: str, region: str, entry: dict[str, Any]) -> tuple[str, str, str]:
        bus = entry.get("EventBusName") or "default"
        if bus.startswith("arn:"):
            arn = Arn.parse(bus)
            return arn.account, arn.region, arn.resource.split("/", 1)[1]
        return sender, region, bus

    def envelope(
        self,
        *,
        source: str,
        detail_type: str,
        detail: Any,
        account: str,
        region: str,
        resources: list[str] | None = None,
        time: Any = None,
    ) -> dict[str, Any]:
        if isinstance(time, datetime):
            time = iso(time)
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": account,
            "time": time or iso(self.clock.now),
            "region": region,
            "resources": list(resources or []),
            "detail": detail,
        }

    def _record_trigger(self, envelope: dict[str, Any]) -> None:
        """A trigger is what the trigger manager publishes on its own account's bus; the same
        event put on that bus by another account is not one (and is told as such)."""
        if (
            envelope["source"] == constants.TRIGGER_EVENT_SOURCE
            and envelope["detail-type"] == constants.TRIGGER_DETAIL_TYPE
        ):
            detail = envelope["detail"]
            self.timeline.add(
                TriggerPublished(
                    self.clock.now,
                    detail.get("pipeline", ""),
                    detail.get("account", ""),
                    detail.get("trigger_id", ""),
                    tuple(detail.get("causes", [])),
                    detail.get("period"),
                )
            )

    # -- delivery ------------------------------------------------------------------------

    def put_on_bus(self, event: BusEvent) -> None:
        """Queue ``event`` for delivery at the current virtual time."""
        self.clock.soon(lambda: self.deliver(event))

    def deliver(self, event: BusEvent) -> None:
        events_api = self.server.client(event.bus_account, "events")
        for rule in _rules(events_api, event.bus_name):
            if rule.get("State") != "ENABLED" or not rule.get("EventPattern"):
                continue
            if not matches(json.loads(rule["EventPattern"]), event.envelope):
                continue
            targets = events_api.list_targets_by_rule(
                Rule=rule["Name"], EventBusName=event.bus_name
            )["Targets"]
            for target in targets:
                self.deliver_to(event, rule, target)

    def deliver_to(self, event: BusEvent, rule: dict[str, Any], target: dict[str, Any]) -> None:
        """At least once, and under chaos sometimes twice or minutes late, as EventBridge."""
        copies = self.chaos.copies() if self.chaos else 1
        for _ in range(copies):
            delay = self.chaos.delivery_delay() if self.chaos else 0
            if delay:
                moment = self.clock.now + timedelta(seconds=delay)
                self.clock.at(moment, functools.partial(self.send, event, rule, target))
            else:
                self.send(event, rule, target)

    def send(self, event: BusEvent, rule: dict[str, Any], target: dict[str, Any]) -> None:
        """Deliver to one target; what cannot be delivered goes to the target's dead-letter
        queue with EventBridge's message attributes, or is noted if it has none."""
        try:
            self._send(event, rule, target)
        except Exception as error:  # any failure is handled as AWS handles it
            self._dead_letter(event, rule, target, error)

    def _dead_letter(
        self, event: BusEvent, rule: dict[str, Any], target: dict[str, Any], error: Exception
    ) -> None:
        code = getattr(error, "response", {}).get("Error", {}).get("Code") or type(error).__name__
        queue = (target.get("DeadLetterConfig") or {}).get("Arn")
        self.note(
            f"rule {rule['Name']}: delivery to {target['Arn']} failed ({code}: {error})"
            + (f" → dead-letter queue {queue.rsplit(':', 1)[-1]}" if queue else ""),
            "error",
        )
        if not queue:
            return
        attributes = {
            "RULE_ARN": rule["Arn"],
            "TARGET_ARN": target["Arn"],
            "ERROR_CODE": code,
            "ERROR_MESSAGE": str(error)[:256],
        }
        send_to_queue(
            self.server,
            queue,
            json.dumps(event.envelope),
            {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )

    def _send(self, event: BusEvent, rule: dict[str, Any], target: dict[str, Any]) -> None:
        payload = target_input(target, event.envelope)
        arn = Arn.parse(target["Arn"])
        if arn.service == "lambda":
            self.lambdas.invoke_config(target["Arn"])  # a missing function fails the delivery
            self.lambdas.invoke_async(target["Arn"], json.loads(payload), rule["Name"])
        elif arn.service == "states":
            states = self.server.client(arn.account, "stepfunctions")
            states.start_execution(
                stateMachineArn=target["Arn"],
                name=self._execution_name(arn.account, arn.resource.split(":", 1)[1]),
                input=payload,
            )
        elif arn.service == "events" and arn.resource.startswith("event-bus/"):
            self._forward(event, rule, arn)
        elif arn.service == "sqs":
            send_to_queue(self.server, target["Arn"], payload)
        elif arn.service == "sns":
            self.publish(target["Arn"], payload, subject=None)
        else:
            raise NotImplementedError(f"target {target['Arn']} is not emulated")

    def _forward(self, event: BusEvent, rule: dict[str, Any], target_bus: Arn) -> None:
        bus_name = target_bus.resource.split("/", 1)[1]
        if target_bus.account != event.bus_account and not self.bus_admits(
            target_bus.account, target_bus.region, bus_name, event.bus_account
        ):
            self.note(
                f"refused: rule {rule['Name']} of {event.bus_account} may not put events on "
                f"{bus_name} of {target_bus.account}",
                "refused",
            )
            return
        forwarded = BusEvent(target_bus.account, target_bus.region, bus_name, event.envelope)
        self.put_on_bus(forwarded)

    def bus_admits(self, bus_account: str, region: str, bus_name: str, sender: str) -> bool:
        """Does the deployed policy of ``bus_name`` in ``bus_account`` admit ``sender``?"""
        events_api = self.server.client(bus_account, "events")
        try:
            api_policy = events_api.describe_event_bus(Name=bus_name).get("Policy")
        except events_api.exceptions.ResourceNotFoundException:
            return False
        statements = policies.bus_statements(self.stacks.of(bus_account), bus_name, api_policy)
        caller = policies.Caller(sender, self.organization_id if self._in_org(sender) else None)
        return policies.admits(statements, caller, "events:PutEvents")

    def _in_org(self, account: str) -> bool:
        return account in self.server.accounts.values()

    def _execution_name(self, account: str, state_machine_name: str) -> str:
        """AWS names rule-started executions with a random UUID; the sandbox names them by
        pipeline and virtual time instead, so a timeline reads well and two runs of the same
        story print the same names. Unique per state machine, valid as a name."""
        pipeline = state_machine_name.removeprefix(constants.STATE_MACHINE_PREFIX)
        name = f"{pipeline}-{self.clock.now:%Y%m%dT%H%M}"
        key = (account, state_machine_name)
        used = self._execution_names.setdefault(key, set())
        unique, number = name, 1
        while unique in used:
            number += 1
            unique = f"{name}-{number}"
        used.add(unique)
        return unique

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

    # -- schedules -----------------------------------------------------------------------

    def arm_schedules(self, until: datetime) -> None:
        """Queue every tick of every deployed schedule rule in (now, until]."""
        from dpc.triggers.cron import parse_schedule

        start = self.clock.now
        for account in self.server.accounts.values():
            events_api = self.server.client(account, "events")
            for rule in _rules(events_api, "default"):
                expression = rule.get("ScheduleExpression")
                if not expression or rule.get("State") != "ENABLED":
                    continue
                schedule = parse_schedule(expression)
                if hasattr(schedule, "ticks_between"):
                    ticks = list(schedule.ticks_between(start, until))
                else:
                    count = int((until - start) / schedule.interval)
                    ticks = [start + schedule.interval * (i + 1) for i in range(count)]
                for tick in ticks:
                    self.clock.at(tick, self._fire(account, rule, tick))

    def _fire(self, account: str, rule: dict[str, Any], tick: datetime) -> Callable[[], None]:
        def fire() -> None:
            envelope = self.envelope(
                source="aws.events",
                detail_type="Scheduled Event",
                detail={},
                account=account,
                region=self.server.region,
                resources=[rule["Arn"]],
                time=tick,
            )
            event = BusEvent(account, self.server.region, "default", envelope)
            events_api = self.server.client(account, "events")
            targets = events_api.list_targets_by_rule(Rule=rule["Name"])["Targets"]
            for target in targets:
                self.deliver_to(event, rule, target)

        return fire


# -- helpers -------------------------------------------------------------------------------


class _Refused(Exception):
    """A PutEvents request refused whole, with the error EventBridge answers."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_LISTED = ("status", "startDate", "stopDate")
"""What ListExecutions says of an execution that DescribeExecution says too."""


def _execution_arn(state_machine_arn: Any, name: str) -> str:
    """The ARN Step Functions gives execution ``name`` of that state machine
    (``arn:…:stateMachine:M`` → ``arn:…:execution:M:name``); "" for no state machine."""
    if not isinstance(state_machine_arn, str) or ":stateMachine:" not in state_machine_arn:
        return ""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


def _entry_time(value: Any) -> datetime | None:
    """A PutEvents entry's ``Time`` as the JSON protocol sends it (epoch seconds, or ISO)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _entry_problem(entry: dict[str, Any]) -> dict[str, str] | None:
    for name in ("Source", "DetailType", "Detail"):
        if not entry.get(name):
            return {
                "ErrorCode": "InvalidArgument",
                "ErrorMessage": f"Parameter {name} is not valid. Reason: {name} is a required "
                "argument.",
            }
    if entry["Source"].startswith("aws."):
        # AWS reserves aws.* sources for its services; rules that trust them (the
        # trigger manager's aws.states rule) rely on customers not being able to put them.
        return {
            "ErrorCode": "NotAuthorizedForSourceException",
            "ErrorMessage": "Not authorized for the source.",
        }
    try:
        json.loads(entry["Detail"])
    except ValueError:
        return {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    return None


def _rules(events_api: Any, bus_name: str) -> Iterator[dict[str, Any]]:
    token = None
    while True:
        page = events_api.list_rules(
            EventBusName=bus_name, **({"NextToken": token} if token else {})
        )
        yield from page.get("Rules", [])
        token = page.get("NextToken")
        if not token:
            return


def target_input(target: dict[str, Any], envelope: dict[str, Any]) -> str:
    """The payload a target gets: Input, InputPath or InputTransformer as deployed."""
    if "Input" in target:
        return str(target["Input"])
    if "InputPath" in target:
        return json.dumps(json_path(envelope, target["InputPath"]))
    transformer = target.get("InputTransformer")
    if transformer:
        values = {
            name: json_path(envelope, path)
            for name, path in transformer.get("InputPathsMap", {}).items()
        }
        return render_template(transformer["InputTemplate"], values)
    return json.dumps(envelope)
