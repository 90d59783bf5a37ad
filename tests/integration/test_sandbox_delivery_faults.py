"""The sandbox delivers as AWS does when things go wrong: Lambda's retries and on-failure
destination, a rule target's dead-letter queue, ``Invoke`` with ``Event``, and the chaos
faults (dropped, duplicated, late) that dpc has to survive — on hand-made wiring."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from test_sandbox_runtime import (
    ACCOUNTS,
    CENTRAL,
    START,
    A,
    _central_bus,
    _central_rule,
    _export_rule,
    _pipeline,
    _records,
    _role,
    _zip,
)

from dpc import constants
from dpc.sandbox.chaos import Chaos
from dpc.sandbox.sandbox import Sandbox
from dpc.sandbox.timeline import StatusChange


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(accounts=ACCOUNTS, start=START, work_dir=tmp_path / "work") as running:
        yield running


def _function(sandbox: Sandbox, tmp_path: Path, handler: str) -> tuple[str, Path]:
    record_file = tmp_path / f"{handler}.jsonl"
    record_file.touch()
    function = sandbox.client(CENTRAL, "lambda").create_function(
        FunctionName=handler.replace(".", "-").replace("_", "-"),
        Runtime="python3.12",
        Role=_role(sandbox, CENTRAL, f"role-{handler}"),
        Handler=f"sandbox_recorder.{handler}",
        Code={"ZipFile": _zip()},
        Environment={"Variables": {"RECORD_FILE": str(record_file)}},
    )
    return function["FunctionArn"], record_file


def _queue(sandbox: Sandbox, name: str) -> tuple[str, str]:
    sqs = sandbox.client(CENTRAL, "sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def _messages(sandbox: Sandbox, url: str) -> list[dict[str, Any]]:
    sqs = sandbox.client(CENTRAL, "sqs")
    return sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", [])


def _put(sandbox: Sandbox, account: str, detail: dict[str, Any]) -> None:
    sandbox.client(account, "events").put_events(
        Entries=[
            {
                "EventBusName": constants.CENTRAL_BUS_NAME
                if account == CENTRAL
                else f"arn:aws:events:eu-west-1:{CENTRAL}:event-bus/{constants.CENTRAL_BUS_NAME}",
                "Source": "dpc.test",
                "DetailType": "Probe",
                "Detail": json.dumps(detail),
            }
        ]
    )


def test_a_failing_async_invocation_is_tried_three_times_then_lands_in_its_on_failure_queue(
    sandbox, tmp_path
):
    # Given a function that always fails, with Lambda's default 2 retries and an SQS
    # on-failure destination, targeted by a rule on the central bus
    function_arn, record_file = _function(sandbox, tmp_path, "failing_handler")
    url, queue_arn = _queue(sandbox, "dpc-probe-dlq")
    sandbox.client(CENTRAL, "lambda").put_function_event_invoke_config(
        FunctionName=function_arn,
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    _central_bus(sandbox, admitted=[])
    _central_rule(sandbox, function_arn, {"source": ["dpc.test"]})

    # When an event reaches it and three minutes pass
    _put(sandbox, CENTRAL, {"n": 1})
    sandbox.advance(timedelta(minutes=4))

    # Then the handler ran three times (retries after one and two minutes)
    assert len(_records(record_file)) == 3
    # and Lambda's invocation record, with the original event, waits in the queue
    (message,) = _messages(sandbox, url)
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].startswith(function_arn)
    assert record["requestPayload"]["detail"] == {"n": 1}
    assert "unreachable" in record["responsePayload"]["errorMessage"]


def test_an_invocation_record_replayed_by_its_own_function_arn_fails_into_the_queue_again(
    sandbox, tmp_path
):
    # Given a failed invocation whose record waits in the on-failure queue
    function_arn, record_file = _function(sandbox, tmp_path, "failing_handler")
    url, queue_arn = _queue(sandbox, "dpc-replay-dlq")
    lambda_api = sandbox.client(CENTRAL, "lambda")
    lambda_api.put_function_event_invoke_config(
        FunctionName=function_arn,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    lambda_api.invoke(FunctionName=function_arn, InvocationType="Event", Payload=b'{"n": 3}')
    sandbox.settle()
    (first,) = _messages(sandbox, url)
    sandbox.client(CENTRAL, "sqs").delete_message(
        QueueUrl=url, ReceiptHandle=first["ReceiptHandle"]
    )
    qualified = json.loads(first["Body"])["requestContext"]["functionArn"]
    assert qualified == f"{function_arn}:$LATEST"

    # When it is replayed as dpc redrive replays it: Invoke of the record's (qualified) ARN
    lambda_api.invoke(FunctionName=qualified, InvocationType="Event", Payload=b'{"n": 3}')
    sandbox.settle()

    # Then the handler ran again and the new record names the same function, once qualified
    assert len(_records(record_file)) == 2
    (second,) = _messages(sandbox, url)
    assert json.loads(second["Body"])["requestContext"]["functionArn"] == qualified


def test_a_target_that_cannot_be_delivered_goes_to_the_rules_dead_letter_queue(sandbox):
    # Given a rule whose Lambda target does not exist, with a dead-letter queue
    url, queue_arn = _queue(sandbox, "dpc-gone-dlq")
    _central_bus(sandbox, admitted=[])
    events = sandbox.client(CENTRAL, "events")
    events.put_rule(
        Name="to-nowhere",
        EventBusName=constants.CENTRAL_BUS_NAME,
        EventPattern=json.dumps({"source": ["dpc.test"]}),
    )
    missing = f"arn:aws:lambda:eu-west-1:{CENTRAL}:function:deleted-yesterday"
    events.put_targets(
        Rule="to-nowhere",
        EventBusName=constants.CENTRAL_BUS_NAME,
        Targets=[{"Id": "gone", "Arn": missing, "DeadLetterConfig": {"Arn": queue_arn}}],
    )

    # When an event matches
    _put(sandbox, CENTRAL, {"n": 2})
    sandbox.settle()

    # Then the event is parked with EventBridge's attributes naming rule, target and error
    (message,) = _messages(sandbox, url)
    assert json.loads(message["Body"])["detail"] == {"n": 2}
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["TARGET_ARN"] == missing
    assert attributes["RULE_ARN"].endswith("rule/dpc-central-bus/to-nowhere")
    assert attributes["ERROR_CODE"]


def test_invoke_with_event_runs_the_handler_on_the_clock(sandbox, tmp_path):
    function_arn, record_file = _function(sandbox, tmp_path, "handler")

    answer = sandbox.client(CENTRAL, "lambda").invoke(
        FunctionName=function_arn, InvocationType="Event", Payload=json.dumps({"replayed": 1})
    )
    assert answer["StatusCode"] == 202
    assert _records(record_file) == []  # queued, as Lambda queues it

    sandbox.settle()
    assert [r["event"] for r in _records(record_file)] == [{"replayed": 1}]


def test_chaos_duplicates_a_delivery_to_a_target(sandbox, tmp_path):
    function_arn, record_file = _function(sandbox, tmp_path, "handler")
    _central_bus(sandbox, admitted=[])
    _central_rule(sandbox, function_arn, {"source": ["dpc.test"]})
    sandbox.runtime.chaos = Chaos(
        seed=1,
        drop_status_event=0,
        duplicate_delivery=1,
        late_delivery=0,
        failed_invocation=0,
        put_events_failure=0,
    )

    _put(sandbox, CENTRAL, {"n": 3})
    sandbox.settle()

    assert [r["event"]["detail"] for r in _records(record_file)] == [{"n": 3}, {"n": 3}]


def test_chaos_drops_a_status_event_but_the_execution_still_runs(sandbox, tmp_path):
    # Given a pipeline exported to the central bus, whose events reach a recorder
    function_arn, record_file = _function(sandbox, tmp_path, "handler")
    machine = _pipeline(sandbox, A, "listings", "ok.sh")
    _export_rule(sandbox, A, _central_bus(sandbox, admitted=[A]))
    _central_rule(sandbox, function_arn, {"source": ["aws.states"]})
    sandbox.runtime.chaos = Chaos(
        seed=1,
        drop_status_event=1,
        duplicate_delivery=0,
        late_delivery=0,
        failed_invocation=0,
        put_events_failure=0,
    )

    # When it runs
    sandbox.client(A, "stepfunctions").start_execution(stateMachineArn=machine, name="r1")
    sandbox.advance(timedelta(hours=1))

    # Then it succeeded, but no status event was ever delivered (best effort)
    assert [s.status for s in sandbox.timeline.of(StatusChange)] == ["RUNNING", "SUCCEEDED"]
    assert _records(record_file) == []


def test_a_seed_replays_the_same_faults():
    draws = []
    for _ in range(2):
        chaos = Chaos(seed=7)
        draws.append(
            [(chaos.copies(), chaos.delivery_delay(), chaos.invocation_fault()) for _ in range(50)]
        )
    assert draws[0] == draws[1]
    assert Chaos(seed=7).summary() == "chaos seed 7: no fault drawn"


def test_an_execution_is_listed_with_its_virtual_start_from_the_moment_it_starts(sandbox):
    # Given a pipeline started at the sandbox's virtual time
    machine = _pipeline(sandbox, A, "listings", "ok.sh")
    sfn = sandbox.client(A, "stepfunctions")
    arn = sfn.start_execution(stateMachineArn=machine, name="r1")["executionArn"]
    # When a status sweep lists it at that same instant, before the run began
    # Then Step Functions answers with the virtual start, never the wall clock (a chaos
    # seed once saw the sweep re-send a RUNNING dated today, which hid the 1 am success)
    listed = sfn.list_executions(stateMachineArn=machine)["executions"][0]["startDate"]
    described = sfn.describe_execution(executionArn=arn)["startDate"]
    assert listed == described == sandbox.runtime.clock.now
