"""Runs the DEPLOYED definition of a dpc state machine, as Step Functions would.

The interpreter reads the ASL moto holds (``DescribeStateMachine``) and walks it: Pass,
Task, Choice, Wait, Succeed, Fail, with InputPath / Parameters / ResultSelector /
ResultPath / OutputPath and Catch. Retry is not applied (one attempt; a failed task goes
to its Catch), and TimeoutSeconds is not enforced. Task integrations:

- ``elasticmapreduce:createCluster`` — a cluster that needs nothing (``j-SANDBOX…``);
- ``elasticmapreduce:addStep`` — the EMR step really runs, as a subprocess in a work
  folder ``<work>/runs/<account>/<pipeline>/<execution>/`` (its log is ``<step>.log``
  there): ``script-runner.jar`` downloads its
  script from S3 (moto) and runs it with bash; ``command-runner.jar`` runs its command
  (``spark-submit`` from PATH, s3:// arguments downloaded first) and fails clearly when
  the command is not installed. The run's context is in the environment: DPC_PIPELINE,
  DPC_ACCOUNT, DPC_EXECUTION, DPC_EXECUTION_ARN, DPC_STEP, DPC_RUN_DIR (that folder),
  DPC_WORK_DIR (``<work>/data``, shared by every pipeline: the "bucket" where a parent
  leaves what its children read), DPC_LANDING_DIR (``<work>/landing``: where the systems
  upstream of the pipelines drop their raw input), DPC_RUN_TIME (virtual time),
  DPC_TRIGGER_ID, DPC_TRIGGER_CAUSES (JSON, both from the §6 input's ``dpc``) and
  DPC_EXECUTION_INPUT (JSON), plus the account's sandbox credentials and endpoint so a
  script can call "AWS". DPC_PERIOD is not set here: it comes from the deployed step
  arguments, as on EMR (a shell step's ``bash -c`` sets it; a Spark step's
  ``--conf spark.yarn.appMasterEnv.DPC_PERIOD=…`` goes into the local driver's environment,
  which YARN does for the driver in cluster mode);
- ``elasticmapreduce:terminateCluster`` — nothing to do;
- ``sns:publish``, ``events:putEvents``, ``lambda:invoke`` (and a bare Lambda ARN) — through
  the sandbox (outbox, bus delivery, in-process handler).

Virtual time: a cluster takes ``CLUSTER_START`` to come up, each EMR step ``STEP_DURATION``,
termination ``CLUSTER_STOP``; the subprocess itself runs at once. The execution emits the
native ``Step Functions Execution Status Change`` events on its account's default bus.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Generator
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dpc import constants
from dpc.sandbox.bus import BusEvent
from dpc.sandbox.intrinsics import IntrinsicError, evaluate, is_intrinsic
from dpc.sandbox.jsonpath import json_path
from dpc.sandbox.timeline import iso

if TYPE_CHECKING:
    from dpc.sandbox.integrations import Integrations


CLUSTER_START = timedelta(minutes=5)
STEP_DURATION = timedelta(minutes=5)
CLUSTER_STOP = timedelta(minutes=1)
OUTPUT_TAIL = 800
"""Characters of a failed step's output kept in the task's cause."""

Clock = Generator[timedelta, None, None]
"""A run yields the virtual time each task takes; the clock resumes it when that is over."""


class TaskFailed(Exception):
    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


class ExecutionRun:
    """One execution, run by the sandbox: what Step Functions answers of it (status,
    dates, output, history) is this run's record, since moto runs nothing."""

    def __init__(
        self,
        services: Integrations,
        *,
        execution_arn: str,
        state_machine_arn: str,
        execution_input: str,
    ) -> None:
        self.services = services
        self.execution_arn = execution_arn
        self.state_machine_arn = state_machine_arn
        arn = execution_arn.split(":")
        self.region, self.account, self.name = arn[3], arn[4], arn[7]
        self.machine_name = state_machine_arn.rsplit(":", 1)[-1]
        self.pipeline = self.machine_name.removeprefix(constants.STATE_MACHINE_PREFIX)
        self.execution_input = execution_input
        self.input: Any = json.loads(execution_input)
        self.status = "RUNNING"
        self.start_date: datetime = services.clock.now
        self.stop_date: datetime | None = None
        self.output: str | None = None
        self.error: str | None = None
        self.cause: str | None = None
        self.run_dir = services.work_dir / "runs" / self.account / self.pipeline / self.name
        self.data_dir = services.work_dir / "data"
        self._steps: Clock | None = None
        self.history: list[dict[str, Any]] = []
        self._unsent: list[dict[str, Any]] = []
        self._log_group: str | None = None
        self._log_subscribers: list[str] = []

    def described(self) -> dict[str, Any]:
        """What DescribeExecution says of this run beyond what moto recorded."""
        answer: dict[str, Any] = {"status": self.status, "startDate": self.start_date.timestamp()}
        if self.stop_date is not None:
            answer["stopDate"] = self.stop_date.timestamp()
        if self.output is not None:
            answer["output"] = self.output
            answer["outputDetails"] = {"included": True}
        if self.error is not None:
            answer["error"] = self.error
        if self.cause is not None:
            answer["cause"] = self.cause
        return answer

    # -- lifecycle driven by the clock -----------------------------------------------------

    def begin(self) -> None:
        self.start_date = self.services.clock.now
        described = self._describe()
        self._log_group = _log_group(described) or self.services.logs.deployed_log_group(
            self.account, self.state_machine_arn
        )
        if self._log_group is not None:
            self._log_subscribers = self.services.logs.log_subscribers(
                self.account, self._log_group
            )
        self._emit("RUNNING")
        self._record("ExecutionStarted", input=self.execution_input)
        self._steps = self._run(json.loads(described["definition"]))
        self._advance()

    def _advance(self) -> None:
        assert self._steps is not None
        try:
            duration = next(self._steps)
        except StopIteration:
            self._flush()
            return
        self._flush()
        self.services.clock.at(self.services.clock.now + duration, self._advance)

    # -- execution history (GetExecutionHistory and the state machine's log group) -------

    def _record(self, kind: str, **details: Any) -> None:
        entry = {
            "id": len(self.history) + 1,
            "type": kind,
            "time": self.services.clock.now,
            "details": {k: v for k, v in details.items() if v is not None},
        }
        self.history.append(entry)
        self._unsent.append(entry)

    def _flush(self) -> None:
        """Deliver the history written since the last slice of virtual time, in one batch,
        to the subscription filters of the state machine's log group (level ALL)."""
        batch, self._unsent = self._unsent, []
        if not batch or self._log_group is None or not self._log_subscribers:
            return
        messages = [
            json.dumps(
                {
                    "id": str(e["id"]),
                    "type": e["type"],
                    "details": e["details"],
                    "previous_event_id": str(e["id"] - 1),
                    "event_timestamp": str(_millis(e["time"])),
                    "execution_arn": self.execution_arn,
                }
            )
            for e in batch
        ]
        self.services.logs.deliver_logs(self._log_subscribers, self._log_group, messages)

    def api_history(self) -> list[dict[str, Any]]:
        """The history as GetExecutionHistory returns it (details under a per-type key)."""
        return [
            {
                "timestamp": e["time"].timestamp(),
                "type": e["type"],
                "id": e["id"],
                "previousEventId": e["id"] - 1,
                _details_key(e["type"]): e["details"],
            }
            for e in self.history
        ]

    def _finish(self, status: str, output: Any = None, error: str = "", cause: str = "") -> None:
        self.status = status
        self.stop_date = self.services.clock.now
        self.output = json.dumps(output) if status == "SUCCEEDED" else None
        self.error = error or None
        self.cause = cause or None
        if status == "SUCCEEDED":
            self._record("ExecutionSucceeded", output=self.output)
        else:
            self._record(f"Execution{_pascal_status(status)}", error=error, cause=cause)
        self._emit(status)

    def _emit(self, status: str) -> None:
        detail = {
            "executionArn": self.execution_arn,
            "stateMachineArn": self.state_machine_arn,
            "name": self.name,
            "status": status,
            "startDate": _millis(self.start_date),
            "stopDate": _millis(self.stop_date) if status != "RUNNING" else None,
            "input": self.execution_input,
            "output": self.output if status != "RUNNING" else None,
            "inputDetails": {"included": True},
            "outputDetails": {"included": True} if status == "SUCCEEDED" else None,
            "error": self.error if status != "RUNNING" else None,
            "cause": self.cause if status != "RUNNING" else None,
        }
        envelope = self.services.buses.envelope(
            source=constants.SFN_EVENT_SOURCE,
            detail_type=constants.SFN_STATUS_DETAIL_TYPE,
            detail=detail,
            account=self.account,
            region=self.region,
            resources=[self.execution_arn],
        )
        self.services.record_status(self.account, self.machine_name, self.name, status)
        chaos = self.services.chaos
        if chaos and chaos.drops_status_event():
            self.services.note(
                f"chaos: the {status} event of {self.name} never reaches the bus", "chaos"
            )
            return
        self.services.buses.put_on_bus(BusEvent(self.account, self.region, "default", envelope))

    # -- the interpreter -----------------------------------------------------------------

    def _describe(self) -> dict[str, Any]:
        states = self.services.server.client(self.account, "stepfunctions")
        described: dict[str, Any] = states.describe_state_machine(
            stateMachineArn=self.state_machine_arn
        )
        return described

    def _run(self, definition: dict[str, Any]) -> Clock:
        try:
            output = yield from self._run_states(definition, self.input)
        except TaskFailed as failure:
            self._finish("FAILED", error=failure.error, cause=failure.cause)
        else:
            self._finish("SUCCEEDED", output)

    def _run_states(
        self, machine: dict[str, Any], document: Any
    ) -> Generator[timedelta, None, Any]:
        states = machine["States"]
        name = machine["StartAt"]
        while True:
            state = states[name]
            kind = state["Type"]
            self._record(f"{kind}StateEntered", name=name, input=json.dumps(document))
            if kind == "Succeed":
                output = _select(state, "OutputPath", self._path_input(state, document))
                self._record("SucceedStateExited", name=name, output=json.dumps(output))
                return output
            if kind == "Fail":
                raise self._failure(state, document)
            try:
                document, following = yield from self._run_state(state, document)
                self._record(f"{kind}StateExited", name=name, output=json.dumps(document))
            except TaskFailed as failure:
                catcher = _catcher(state, failure.error)
                self._record(f"{kind}StateExited", name=name)
                if catcher is None:
                    raise
                error = {"Error": failure.error, "Cause": failure.cause}
                document = _put_result(document, catcher.get("ResultPath", "$"), error)
                following = catcher["Next"]
            if following is None:
                return document
            name = following

    def _run_state(
        self, state: dict[str, Any], document: Any
    ) -> Generator[timedelta, None, tuple[Any, str | None]]:
        kind = state["Type"]
        following = None if state.get("End") else state.get("Next")
        effective = self._path_input(state, document)
        if kind == "Pass":
            result = state.get("Result", effective)
        elif kind == "Wait":
            yield timedelta(seconds=int(state.get("Seconds", 0)))
            result = effective
        elif kind == "Choice":
            chosen = next(
                (c["Next"] for c in state.get("Choices", []) if _choice(c, effective)),
                state.get("Default"),
            )
            if chosen is None:
                raise TaskFailed("States.NoChoiceMatched", "no choice matched and no Default")
            return _select(state, "OutputPath", effective), chosen
        elif kind == "Task":
            resource = state["Resource"]
            kind_of = resource.removeprefix("arn:aws:states:::").split(":")[0]
            self._record("TaskScheduled", resource=resource, resourceType=kind_of)
            self._record("TaskStarted", resource=resource, resourceType=kind_of)
            try:
                result = yield from self._task(state, effective)
            except TaskFailed as failure:
                self._record(
                    "TaskFailed",
                    resource=resource,
                    resourceType=kind_of,
                    error=failure.error,
                    cause=failure.cause,
                )
                raise
            self._record(
                "TaskSucceeded", resource=resource, resourceType=kind_of, output=json.dumps(result)
            )
            if "ResultSelector" in state:
                result = self._parameters(state["ResultSelector"], result)
        else:
            raise TaskFailed("States.Runtime", f"state type {kind} is not run by the sandbox")
        document = _put_result(document, state.get("ResultPath", "$"), result)
        return _select(state, "OutputPath", document), following

    def _failure(self, state: dict[str, Any], document: Any) -> TaskFailed:
        """A Fail state's error and cause: fixed (``Error``, ``Cause``) or read from the
        state's input (``ErrorPath``, ``CausePath``), as Step Functions reads them."""
        error = state.get("Error", "States.Fail")
        cause = state.get("Cause", "")
        try:
            if "ErrorPath" in state:
                error = str(self._path_value(state["ErrorPath"], document))
            if "CausePath" in state:
                cause = str(self._path_value(state["CausePath"], document))
        except KeyError as missing:
            return TaskFailed("States.Runtime", str(missing))
        return TaskFailed(error, cause)

    def _path_input(self, state: dict[str, Any], document: Any) -> Any:
        effective = _select(state, "InputPath", document)
        if "Parameters" in state:
            effective = self._parameters(state["Parameters"], effective)
        return effective

    def _parameters(self, template: Any, document: Any) -> Any:
        if isinstance(template, dict):
            resolved = {}
            for key, value in template.items():
                if key.endswith(".$"):
                    resolved[key[:-2]] = self._path_value(value, document)
                else:
                    resolved[key] = self._parameters(value, document)
            return resolved
        if isinstance(template, list):
            return [self._parameters(v, document) for v in template]
        return template

    def _path_value(self, path: str, document: Any) -> Any:
        if path.startswith("$$."):
            return json_path(self._context(), path[1:])
        if is_intrinsic(path):
            try:
                return evaluate(path, lambda inner: self._path_value(inner, document))
            except IntrinsicError as error:
                raise TaskFailed("States.Runtime", str(error)) from error
        return json_path(document, path)

    def _context(self) -> dict[str, Any]:
        return {
            "Execution": {
                "Id": self.execution_arn,
                "Name": self.name,
                "Input": self.input,
                "StartTime": iso(self.start_date),
            },
            "StateMachine": {"Id": self.state_machine_arn, "Name": self.machine_name},
        }

    # -- tasks ---------------------------------------------------------------------------

    def _task(self, state: dict[str, Any], parameters: Any) -> Generator[timedelta, None, Any]:
        resource: str = state["Resource"]
        integration = resource.removeprefix("arn:aws:states:::").split(".")[0]
        if resource.startswith("arn:aws:lambda:"):
            return self._lambda(resource, parameters)
        if integration == "elasticmapreduce:createCluster":
            yield CLUSTER_START
            return {"ClusterId": f"j-SANDBOX{uuid.uuid4().hex[:10].upper()}"}
        if integration == "elasticmapreduce:addStep":
            result = self._emr_step(parameters)
            yield STEP_DURATION
            if isinstance(result, TaskFailed):
                reason = json.loads(result.cause)["Step"]["Status"]["FailureDetails"]["Reason"]
                self.services.note(
                    f"{self.pipeline}: step {parameters['Step']['Name']} failed: {reason}", "error"
                )
                raise result
            return result
        if integration == "elasticmapreduce:terminateCluster":
            yield CLUSTER_STOP
            return {}
        if integration == "sns:publish":
            message = parameters.get("Message")
            if not isinstance(message, str):
                message = json.dumps(message)
            self.services.topics.publish(parameters["TopicArn"], message, parameters.get("Subject"))
            return {"MessageId": str(uuid.uuid4())}
        if integration == "events:putEvents":
            events_api = self.services.server.client(self.account, "events")
            entries = [
                {
                    **e,
                    "Detail": e["Detail"]
                    if isinstance(e["Detail"], str)
                    else json.dumps(e["Detail"]),
                }
                for e in parameters["Entries"]
            ]
            return events_api.put_events(Entries=entries)
        if integration == "lambda:invoke":
            payload = self._lambda(parameters["FunctionName"], parameters.get("Payload", {}))
            return {"Payload": payload, "StatusCode": 200}
        raise TaskFailed("States.Runtime", f"the sandbox does not run {resource}")

    def _lambda(self, function: str, payload: Any) -> Any:
        if not function.startswith("arn:"):
            function = f"arn:aws:lambda:{self.region}:{self.account}:function:{function}"
        try:
            return self.services.lambdas.invoke(function, payload)
        except Exception as error:
            raise TaskFailed(type(error).__name__, str(error)) from error

    def _emr_step(self, parameters: dict[str, Any]) -> dict[str, Any] | TaskFailed:
        step = parameters["Step"]
        name = step.get("Name", "step")
        jar_step = step["HadoopJarStep"]
        jar, args = jar_step["Jar"], [str(a) for a in jar_step.get("Args", [])]
        fault = self.services.faults.pop((self.account, self.pipeline), None)
        if fault is not None:
            self.services.note(f"{self.pipeline}: fault injected into step {name}: {fault}")
            return _step_failure(name, f"injected fault: {fault}")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        driver_environment: dict[str, str] = {}
        if "script-runner" in jar:
            script = self._download(args[0])
            command = ["bash", str(script), *args[1:]]
        elif jar == "command-runner.jar":
            command = [str(self._download(a)) if a.startswith("s3://") else a for a in args]
            if shutil.which(command[0]) is None:
                return _step_failure(
                    name,
                    f"{command[0]} is not on PATH: the sandbox runs Spark steps with a local "
                    "spark-submit (install Apache Spark or `pip install pyspark`)",
                )
            if command[0] == "spark-submit":
                command = _local_spark(command)
                driver_environment = _driver_environment(command)
        else:
            return _step_failure(
                name, f"the sandbox runs only script-runner.jar and command-runner.jar, not {jar}"
            )
        log_path = self.run_dir / f"{name}.log"
        with open(log_path, "w", encoding="utf-8") as log:
            completed = subprocess.run(
                command,
                cwd=self.run_dir,
                env={**self._step_environment(name), **driver_environment},
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if completed.returncode != 0:
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-OUTPUT_TAIL:]
            return _step_failure(name, f"exit code {completed.returncode}: {tail.strip()}")
        return {"Step": {"Name": name, "Status": {"State": "COMPLETED"}}}

    def _download(self, url: str) -> Path:
        bucket, _, key = url.removeprefix("s3://").partition("/")
        target = self.run_dir / Path(key).name
        s3 = self.services.server.client(self.account, "s3")
        s3.download_file(bucket, key, str(target))
        return target

    def _step_environment(self, step: str) -> dict[str, str]:
        dpc_input = self.input.get("dpc") if isinstance(self.input, dict) else None
        trigger = dpc_input if isinstance(dpc_input, dict) else {}
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(self.run_dir)),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            **self.services.server.environment(self.account),
            "DPC_PIPELINE": self.pipeline,
            "DPC_ACCOUNT": self.account,
            "DPC_EXECUTION": self.name,
            "DPC_EXECUTION_ARN": self.execution_arn,
            "DPC_STEP": step,
            "DPC_WORK_DIR": str(self.data_dir),
            "DPC_RUN_DIR": str(self.run_dir),
            "DPC_LANDING_DIR": str(self.services.work_dir / "landing"),
            "DPC_RUN_TIME": iso(self.services.clock.now),
            "DPC_TRIGGER_ID": str(trigger.get("trigger_id") or ""),
            "DPC_TRIGGER_CAUSES": json.dumps(trigger.get("causes") or []),
            "DPC_EXECUTION_INPUT": json.dumps(self.input),
        }


def _log_group(described: dict[str, Any]) -> str | None:
    """The log group a state machine writes its history to (logging level ALL)."""
    config = described.get("loggingConfiguration") or {}
    if config.get("level") != "ALL":
        return None
    for destination in config.get("destinations", []):
        arn = destination.get("cloudWatchLogsLogGroup", {}).get("logGroupArn", "")
        if ":log-group:" in arn:
            return str(arn.split(":log-group:", 1)[1].removesuffix(":*"))
    return None


def _pascal_status(status: str) -> str:
    return {"FAILED": "Failed", "TIMED_OUT": "TimedOut", "ABORTED": "Aborted"}[status]


def _details_key(kind: str) -> str:
    """``TaskStateEntered`` → ``stateEnteredEventDetails``, as GetExecutionHistory names it."""
    for suffix, key in (("StateEntered", "stateEntered"), ("StateExited", "stateExited")):
        if kind.endswith(suffix):
            return f"{key}EventDetails"
    return f"{kind[0].lower()}{kind[1:]}EventDetails"


def _local_spark(command: list[str]) -> list[str]:
    """On one machine there is no cluster to deploy to: run the driver locally."""
    result, skip = [], False
    for index, part in enumerate(command):
        if skip:
            skip = False
            continue
        if part == "--deploy-mode" and index + 1 < len(command):
            skip = True
            continue
        result.append(part)
    return [result[0], "--master", "local[*]", *result[1:]]


def _driver_environment(command: list[str]) -> dict[str, str]:
    """What YARN puts in the driver's environment in cluster mode: each
    ``--conf spark.yarn.appMasterEnv.NAME=VALUE`` (a local driver gets none of them)."""
    prefix = "spark.yarn.appMasterEnv."
    found = {}
    for flag, value in pairwise(command):
        if flag == "--conf" and value.startswith(prefix) and "=" in value:
            name, _, setting = value.removeprefix(prefix).partition("=")
            found[name] = setting
    return found


def _step_failure(name: str, reason: str) -> TaskFailed:
    """The error and cause Step Functions reports for a failed EMR step."""
    cause = {
        "Step": {"Name": name, "Status": {"State": "FAILED", "FailureDetails": {"Reason": reason}}}
    }
    return TaskFailed("States.TaskFailed", json.dumps(cause))


def _millis(moment: Any) -> int | None:
    return int(moment.timestamp() * 1000) if moment is not None else None


def _select(state: dict[str, Any], field: str, document: Any) -> Any:
    path = state.get(field, "$")
    if path is None:
        return {}
    return json_path(document, path)


def _put_result(document: Any, path: str | None, result: Any) -> Any:
    """ResultPath: ``$`` replaces the input, null discards the result, ``$.a.b`` inserts it."""
    if path is None:
        return document
    if path == "$":
        return result
    merged = json.loads(json.dumps(document)) if isinstance(document, dict) else {}
    keys = path.removeprefix("$.").split(".")
    node = merged
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = result
    return merged


def _catcher(state: dict[str, Any], error: str) -> dict[str, Any] | None:
    catcher: dict[str, Any]
    for catcher in state.get("Catch", []):
        names = catcher.get("ErrorEquals", [])
        if "States.ALL" in names or error in names:
            return catcher
    return None


def _choice(rule: dict[str, Any], document: Any) -> bool:
    if "And" in rule:
        return all(_choice(r, document) for r in rule["And"])
    if "Or" in rule:
        return any(_choice(r, document) for r in rule["Or"])
    if "Not" in rule:
        return not _choice(rule["Not"], document)
    try:
        value = json_path(document, rule["Variable"])
    except (KeyError, IndexError, TypeError):
        return rule.get("IsPresent") is False
    comparisons: dict[str, Callable[[Any], object]] = {
        "IsPresent": lambda expected: expected is True,
        "StringEquals": lambda expected: value == expected,
        "BooleanEquals": lambda expected: value is expected,
        "NumericEquals": lambda expected: value == expected,
        "NumericGreaterThan": lambda expected: value > expected,
        "NumericLessThan": lambda expected: value < expected,
        "IsNull": lambda expected: (value is None) is expected,
    }
    for name, test in comparisons.items():
        if name in rule:
            return bool(test(rule[name]))
    return False
