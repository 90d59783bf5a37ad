"""The sandbox's runtime on hand-made wiring (no CDK): delivery by the deployed patterns,
handlers in-process as their account, state machines that really run their steps,
schedules from the virtual clock, and bus policies that refuse strangers."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dpc import constants
from dpc.sandbox.sandbox import Sandbox
from dpc.sandbox.timeline import Note, StatusChange

HERE = Path(__file__).parent
A, B, CENTRAL, STRANGER = "111111111111", "222222222222", "999999999999", "444444444444"
ACCOUNTS = {"central": CENTRAL, "A": A, "B": B, "D": STRANGER}
START = datetime(2026, 11, 27, tzinfo=UTC)


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "")
    return buffer.getvalue()


def _role(sandbox: Sandbox, account: str, name: str) -> str:
    iam = sandbox.client(account, "iam")
    trust = {"Version": "2012-10-17", "Statement": []}
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def _state_machine(step_jar: str, step_args: list[str]) -> dict[str, Any]:
    """The shape dpc's pipeline stacks deploy (dpc.infra.pipeline)."""
    terminate = "arn:aws:states:::elasticmapreduce:terminateCluster.sync"
    catch_all = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error"}]
    return {
        "StartAt": "CreateCluster",
        "States": {
            "CreateCluster": {
                "Type": "Task",
                "Resource": "arn:aws:states:::elasticmapreduce:createCluster.sync",
                "Parameters": {"Name": "dpc-x"},
                "ResultPath": "$.cluster",
                "Next": "Step work",
                "Catch": [{**catch_all[0], "Next": "PipelineFailed"}],
            },
            "Step work": {
                "Type": "Task",
                "Resource": "arn:aws:states:::elasticmapreduce:addStep.sync",
                "Parameters": {
                    "ClusterId.$": "$.cluster.ClusterId",
                    "Step": {
                        "Name": "work",
                        "ActionOnFailure": "CONTINUE",
                        "HadoopJarStep": {"Jar": step_jar, "Args": step_args},
                    },
                },
                "ResultPath": None,
                "Next": "TerminateCluster",
                "Catch": [{**catch_all[0], "Next": "TerminateAfterFailure"}],
            },
            "TerminateCluster": {
                "Type": "Task",
                "Resource": terminate,
                "Parameters": {"ClusterId.$": "$.cluster.ClusterId"},
                "ResultPath": None,
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
            "TerminateAfterFailure": {
                "Type": "Task",
                "Resource": terminate,
                "Parameters": {"ClusterId.$": "$.cluster.ClusterId"},
                "ResultPath": None,
                "Next": "PipelineFailed",
            },
            "PipelineFailed": {"Type": "Fail", "Error": "PipelineFailed", "Cause": "a step failed"},
        },
    }


def _pipeline(sandbox: Sandbox, account: str, name: str, script: str, jar: str = "") -> str:
    """A state machine whose one step runs ``script`` (uploaded to the account's bucket)."""
    s3 = sandbox.client(account, "s3")
    bucket = f"artifacts-{account}"
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": sandbox.server.region}
        )
    s3.upload_file(str(HERE / "sandbox" / script), bucket, f"scripts/{script}")
    url = f"s3://{bucket}/scripts/{script}"
    if jar == "command-runner.jar":
        definition = _state_machine(jar, ["spark-submit", "--deploy-mode", "cluster", url, "-x"])
    else:
        script_runner = "s3://eu-west-1.elasticmapreduce/libs/script-runner/script-runner.jar"
        definition = _state_machine(script_runner, [url, "--day", "2026-11-27"])
    states = sandbox.client(account, "stepfunctions")
    return states.create_state_machine(
        name=f"{constants.STATE_MACHINE_PREFIX}{name}",
        definition=json.dumps(definition),
        roleArn=_role(sandbox, account, f"sfn-{name}"),
    )["stateMachineArn"]


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(accounts=ACCOUNTS, start=START, work_dir=tmp_path / "work") as running:
        yield running


@pytest.fixture
def recorder(sandbox: Sandbox, tmp_path: Path) -> tuple[str, Path]:
    """A Lambda in the central account that records what it receives."""
    record_file = tmp_path / "records.jsonl"
    record_file.touch()
    function = sandbox.client(CENTRAL, "lambda").create_function(
        FunctionName="recorder",
        Runtime="python3.12",
        Role=_role(sandbox, CENTRAL, "recorder"),
        Handler="sandbox_recorder.handler",
        Code={"ZipFile": _zip()},
        Environment={"Variables": {"RECORD_FILE": str(record_file)}},
    )
    return function["FunctionArn"], record_file


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _central_bus(sandbox: Sandbox, admitted: list[str]) -> str:
    events = sandbox.client(CENTRAL, "events")
    arn = events.create_event_bus(Name=constants.CENTRAL_BUS_NAME)["EventBusArn"]
    for account in admitted:
        events.put_permission(
            EventBusName=constants.CENTRAL_BUS_NAME,
            Action="events:PutEvents",
            Principal=account,
            StatementId=f"Allow{account}",
        )
    return arn


def _export_rule(sandbox: Sandbox, account: str, central_bus_arn: str) -> None:
    events = sandbox.client(account, "events")
    events.put_rule(
        Name=constants.EXPORT_RULE_NAME,
        EventPattern=json.dumps(
            {
                "source": [constants.SFN_EVENT_SOURCE],
                "detail-type": [constants.SFN_STATUS_DETAIL_TYPE],
                "detail": {
                    "stateMachineArn": [
                        {"prefix": f"arn:aws:states:eu-west-1:{account}:stateMachine:dpc-"}
                    ]
                },
            }
        ),
    )
    events.put_targets(
        Rule=constants.EXPORT_RULE_NAME, Targets=[{"Id": "central", "Arn": central_bus_arn}]
    )


def _schedule(sandbox: Sandbox, account: str, name: str, machine_arn: str, cron: str) -> None:
    events = sandbox.client(account, "events")
    events.put_rule(Name=f"dpc-{name}-schedule", ScheduleExpression=cron)
    transformer = {
        "InputPathsMap": {"id": "$.id", "time": "$.time"},
        "InputTemplate": '{"pipeline":"' + name + '","trigger_id":<id>,"causes":[],'
        '"scheduled_time":<time>}',
    }
    events.put_targets(
        Rule=f"dpc-{name}-schedule",
        Targets=[{"Id": "sfn", "Arn": machine_arn, "InputTransformer": transformer}],
    )


def _central_rule(sandbox: Sandbox, function_arn: str, pattern: dict[str, Any]) -> None:
    events = sandbox.client(CENTRAL, "events")
    events.put_rule(
        Name=constants.TRIGGER_MANAGER_RULE_NAME,
        EventBusName=constants.CENTRAL_BUS_NAME,
        EventPattern=json.dumps(pattern),
    )
    events.put_targets(
        Rule=constants.TRIGGER_MANAGER_RULE_NAME,
        EventBusName=constants.CENTRAL_BUS_NAME,
        Targets=[{"Id": "fn", "Arn": function_arn}],
    )


def test_a_scheduled_run_reaches_the_central_lambda_with_its_own_account(sandbox, recorder):
    # Given account A's pipeline on a 03:00 schedule, exported to an admitting central bus
    function_arn, record_file = recorder
    machine = _pipeline(sandbox, A, "listings", "ok.sh")
    _schedule(sandbox, A, "listings", machine, "cron(0 3 * * ? *)")
    _export_rule(sandbox, A, _central_bus(sandbox, admitted=[A]))
    _central_rule(sandbox, function_arn, {"source": ["aws.states"]})

    # When the clock passes 03:00 of day 1 (and not yet day 2)
    sandbox.run_until(START + timedelta(hours=12))

    # Then the run started at 03:00 and succeeded after its cluster and step time
    statuses = [(s.pipeline, s.status, s.time.hour) for s in sandbox.timeline.of(StatusChange)]
    assert statuses == [("listings", "RUNNING", 3), ("listings", "SUCCEEDED", 3)]
    # and the central Lambda got both native events, as account A's, running as central
    records = _records(record_file)
    assert [r["event"]["detail"]["status"] for r in records] == ["RUNNING", "SUCCEEDED"]
    assert {r["event"]["account"] for r in records} == {A}
    assert {r["ran_as"] for r in records} == {CENTRAL}
    assert records[1]["event"]["source"] == "aws.states"
    assert records[1]["event"]["detail"]["stateMachineArn"] == machine
    # and the schedule's InputTransformer built the execution input
    execution_input = json.loads(records[0]["event"]["detail"]["input"])
    assert execution_input["pipeline"] == "listings"
    assert execution_input["scheduled_time"] == "2026-11-27T03:00:00Z"


def test_the_step_really_runs_with_the_run_context(sandbox):
    machine = _pipeline(sandbox, A, "listings", "ok.sh")
    states = sandbox.client(A, "stepfunctions")
    trigger = {
        "dpc": {
            "period": "2026-11-26",
            "trigger_id": "t-1",
            "causes": [{"pipeline": "p"}],
            "rerun_of": None,
            "propagate": True,
        }
    }
    execution = states.start_execution(
        stateMachineArn=machine, name="run-1", input=json.dumps(trigger)
    )

    sandbox.advance(timedelta(hours=1))

    described = states.describe_execution(executionArn=execution["executionArn"])
    assert described["status"] == "SUCCEEDED"
    run_dir = sandbox.work_dir / "runs" / A / "listings" / "run-1"
    context = (run_dir / "context.env").read_text()
    assert "DPC_PIPELINE=listings" in context
    assert "DPC_EXECUTION=run-1" in context
    assert "DPC_TRIGGER_ID=t-1" in context
    assert 'DPC_TRIGGER_CAUSES=[{"pipeline": "p"}]' in context
    assert "args: --day 2026-11-27" in context
    assert f"DPC_WORK_DIR={sandbox.work_dir / 'data'}" in context


def test_a_repeated_start_of_a_running_execution_runs_it_once(sandbox):
    # Given a start, repeated with the same name and input while the run is going (Step
    # Functions then answers with the running execution and starts nothing)
    machine = _pipeline(sandbox, A, "listings", "ok.sh")
    states = sandbox.client(A, "stepfunctions")
    first = states.start_execution(stateMachineArn=machine, name="run-1", input="{}")
    again = states.start_execution(stateMachineArn=machine, name="run-1", input="{}")

    sandbox.advance(timedelta(hours=1))

    # Then it is the same execution, and it ran once
    assert again["executionArn"] == first["executionArn"]
    statuses = [s.status for s in sandbox.timeline.of(StatusChange)]
    assert statuses == ["RUNNING", "SUCCEEDED"]


def test_a_failing_step_fails_the_run_through_catch_with_its_output_as_cause(sandbox):
    machine = _pipeline(sandbox, B, "searches", "broken.sh")
    states = sandbox.client(B, "stepfunctions")
    execution = states.start_execution(stateMachineArn=machine, name="run-1", input="{}")

    sandbox.advance(timedelta(hours=1))

    described = states.describe_execution(executionArn=execution["executionArn"])
    assert described["status"] == "FAILED"
    assert described["error"] == "PipelineFailed"
    statuses = [s.status for s in sandbox.timeline.of(StatusChange)]
    assert statuses == ["RUNNING", "FAILED"]
    (note,) = sandbox.timeline.of(Note)
    assert "exit code 3" in note.text and "searches_raw is empty" in note.text


def test_a_spark_step_without_spark_submit_fails_clearly(sandbox, recorder, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    function_arn, record_file = recorder
    machine = _pipeline(sandbox, A, "aggregate", "ok.sh", jar="command-runner.jar")
    _export_rule(sandbox, A, _central_bus(sandbox, admitted=[A]))
    _central_rule(sandbox, function_arn, {"detail": {"status": ["FAILED"]}})
    sandbox.client(A, "stepfunctions").start_execution(stateMachineArn=machine, input="{}")

    sandbox.advance(timedelta(hours=1))

    assert [s.status for s in sandbox.timeline.of(StatusChange)] == ["RUNNING", "FAILED"]
    (failed,) = _records(record_file)
    assert failed["event"]["detail"]["status"] == "FAILED"
    (note,) = [n for n in sandbox.timeline.of(Note) if n.level == "error"]
    assert "spark-submit is not on PATH" in note.text


def test_a_spark_driver_gets_the_app_master_environment_as_yarn_would(
    sandbox, tmp_path, monkeypatch
):
    # Given a local spark-submit (here a stand-in that records what it was given) and a
    # Spark step deployed as dpc deploys it, with the run's period as app-master environment
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "spark-submit"
    fake.write_text((HERE / "sandbox" / "ok.sh").read_text())
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    machine = _pipeline(sandbox, A, "aggregate", "ok.sh", jar="command-runner.jar")
    states = sandbox.client(A, "stepfunctions")
    definition = json.loads(states.describe_state_machine(stateMachineArn=machine)["definition"])
    jar_step = definition["States"]["Step work"]["Parameters"]["Step"]["HadoopJarStep"]
    url = jar_step["Args"][3]
    jar_step["Args"] = [
        *("spark-submit", "--deploy-mode", "cluster"),
        *("--conf", "spark.yarn.appMasterEnv.DPC_PERIOD=2026-11-27"),
        *("--conf", "spark.executorEnv.DPC_PERIOD=2026-11-27"),
        url,
    ]
    states.update_state_machine(stateMachineArn=machine, definition=json.dumps(definition))
    states.start_execution(stateMachineArn=machine, name="run-1", input="{}")

    sandbox.advance(timedelta(hours=1))

    # Then the driver ran locally with DPC_PERIOD in its environment
    assert [s.status for s in sandbox.timeline.of(StatusChange)] == ["RUNNING", "SUCCEEDED"]
    context = (sandbox.work_dir / "runs" / A / "aggregate" / "run-1" / "context.env").read_text()
    assert "DPC_PERIOD=2026-11-27" in context.splitlines()
    assert "args: --master local[*] --conf spark.yarn.appMasterEnv.DPC_PERIOD=2026-11-27" in context


def test_a_put_from_an_account_outside_the_bus_policy_is_refused(sandbox, recorder):
    function_arn, record_file = recorder
    bus_arn = _central_bus(sandbox, admitted=[A])
    _central_rule(sandbox, function_arn, {"source": ["dpc.impostor"]})
    forged = {
        "Source": "dpc.impostor",
        "DetailType": constants.SFN_STATUS_DETAIL_TYPE,
        "Detail": json.dumps({"status": "SUCCEEDED", "name": "forged"}),
        "EventBusName": bus_arn,
    }

    refused = sandbox.client(STRANGER, "events").put_events(Entries=[forged])
    admitted = sandbox.client(A, "events").put_events(Entries=[forged])
    sandbox.settle()

    assert refused["FailedEntryCount"] == 1
    assert refused["Entries"][0]["ErrorCode"] == "AccessDeniedException"
    assert admitted["FailedEntryCount"] == 0
    assert [r["event"]["account"] for r in _records(record_file)] == [A]


def test_a_put_with_an_aws_source_is_refused_even_from_an_admitted_account(sandbox, recorder):
    # Given the central rule that trusts aws.states, and account A admitted on the bus
    function_arn, record_file = recorder
    bus_arn = _central_bus(sandbox, admitted=[A])
    _central_rule(sandbox, function_arn, {"source": ["aws.states"]})
    forged = {
        "Source": "aws.states",
        "DetailType": constants.SFN_STATUS_DETAIL_TYPE,
        "Detail": json.dumps({"status": "SUCCEEDED", "name": "forged"}),
        "EventBusName": bus_arn,
    }

    # When A puts a status change itself, as if from Step Functions
    answer = sandbox.client(A, "events").put_events(Entries=[forged])
    sandbox.settle()

    # Then it is refused as on AWS (aws.* sources are reserved) and nothing is delivered
    assert answer["FailedEntryCount"] == 1
    assert answer["Entries"][0]["ErrorCode"] == "NotAuthorizedForSourceException"
    assert _records(record_file) == []


def test_rules_whose_pattern_does_not_match_deliver_nothing(sandbox, recorder):
    function_arn, record_file = recorder
    _central_bus(sandbox, admitted=[])
    _central_rule(
        sandbox, function_arn, {"source": ["dpc.trigger-manager"], "detail": {"account": [B]}}
    )
    events = sandbox.client(CENTRAL, "events")
    for account in (A, B):
        events.put_events(
            Entries=[
                {
                    "Source": "dpc.trigger-manager",
                    "DetailType": "Pipeline Trigger",
                    "Detail": json.dumps({"pipeline": "x", "account": account, "causes": []}),
                    "EventBusName": constants.CENTRAL_BUS_NAME,
                }
            ]
        )
    sandbox.settle()

    assert [r["event"]["detail"]["account"] for r in _records(record_file)] == [B]
