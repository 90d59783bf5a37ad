"""The starter Lambda against Step Functions (moto): what a rule's event starts, under which
name, with which input (DESIGN §5b, §6)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from dpc.constants import ENV_PERIOD_OFFSET_SECONDS, ENV_PERIOD_UNIT, ENV_STATE_MACHINE_ARN
from dpc.lambdas.starter import Settings, Starter, execution_input, start_run
from dpc.triggers.events import RunEvent, Trigger, trigger_id
from dpc.triggers.model import ParentRef
from dpc.triggers.periods import PeriodSpec, parse_period

ACCOUNT = "123456789012"  # moto's default account
X = ParentRef("pipeline-x", ACCOUNT)
DEFINITION = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}


@pytest.fixture
def sfn(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("stepfunctions")


def machine(sfn: Any, name: str = "dpc-pipeline-x") -> str:
    arn: str = sfn.create_state_machine(
        name=name,
        definition=json.dumps(DEFINITION),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/dpc-test",
    )["stateMachineArn"]
    return arn


def starter(sfn: Any, arn: str, unit: str = "day", offset_seconds: int = 0) -> Starter:
    """Settings as the pipeline stack writes them into the starter's environment."""
    settings = Settings.from_env(
        {
            ENV_STATE_MACHINE_ARN: arn,
            ENV_PERIOD_UNIT: unit,
            ENV_PERIOD_OFFSET_SECONDS: str(offset_seconds),
        }
    )
    return Starter(settings, sfn=sfn)


def executions(sfn: Any, arn: str) -> list[dict[str, Any]]:
    listed = sfn.list_executions(stateMachineArn=arn)["executions"]
    return [
        {
            "name": e["name"],
            "input": json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]),
        }
        for e in listed
    ]


def published_trigger() -> dict[str, Any]:
    """A Pipeline Trigger detail as the trigger manager publishes it (correlate: period)."""
    causes = tuple(
        RunEvent(
            datetime(2026, 11, 27, hour, tzinfo=UTC),
            ParentRef(name, account),
            "SUCCEEDED",
            f"s-2026112{hour}T0300",
            parse_period("2026-11-27"),
        )
        for name, account, hour in (
            ("listings", "111111111111", 4),
            ("searches", "222222222222", 6),
        )
    )
    period = parse_period("2026-11-27")
    return Trigger(X, trigger_id(X, causes, period), causes, period).detail()


def test_a_duplicated_trigger_delivery_starts_one_execution(sfn: Any) -> None:
    # Given the trigger rule's event for pipeline-x, delivered three times (EventBridge is
    # at least once; the trigger manager's outbox may republish)
    arn = machine(sfn)
    detail = published_trigger()
    event = {"kind": "trigger", "detail": detail}
    the_starter = starter(sfn, arn)
    # When the starter handles every delivery
    first = the_starter.handle(event)
    second = the_starter.handle(event)
    third = the_starter.handle(event)
    # Then one execution runs, named after the trigger id; the repeat is a success that
    # starts nothing
    assert first == {"execution": f"t-{detail['trigger_id']}", "started": True}
    assert second == third == {"execution": f"t-{detail['trigger_id']}", "started": False}
    (run,) = executions(sfn, arn)
    # with the §6 input, exactly: the trigger's period, id, causes and their lineage
    assert run == {
        "name": f"t-{detail['trigger_id']}",
        "input": {
            "dpc": {
                "period": "2026-11-27",
                "trigger_id": detail["trigger_id"],
                "causes": detail["causes"],
                "rerun_of": None,
                "propagate": True,
                "upstream": sorted({f"{c['pipeline']}@{c['account']}" for c in detail["causes"]}),
            }
        },
    }


def test_a_delivery_after_the_run_finished_starts_nothing_either(sfn: Any) -> None:
    # Given a triggered run that has finished (Step Functions then answers a second start
    # of its name with ExecutionAlreadyExists, not with the running execution)
    arn = machine(sfn)
    event = {"kind": "trigger", "detail": published_trigger()}
    the_starter = starter(sfn, arn)
    name = the_starter.handle(event)["execution"]
    sfn.stop_execution(executionArn=f"{arn.replace(':stateMachine:', ':execution:')}:{name}")
    # When the trigger is delivered again (a late redelivery or an outbox republish)
    # Then nothing starts
    assert the_starter.handle(event)["started"] is False
    assert len(executions(sfn, arn)) == 1


def test_the_three_oclock_run_with_offset_minus_one_day_processes_yesterday(sfn: Any) -> None:
    # Given listings' schedule rule at 03:00 and `period: {unit: day, offset: -1d}`
    arn = machine(sfn, "dpc-listings")
    the_starter = starter(sfn, arn, "day", -86400)
    # When the tick of 28 November reaches the starter (twice: a redelivery)
    event = {"kind": "schedule", "time": "2026-11-28T03:00:00Z"}
    assert the_starter.handle(event) == {"execution": "s-20261128T0300", "started": True}
    assert the_starter.handle(event)["started"] is False
    # Then one run processes 27 November, with no trigger and no causes
    assert executions(sfn, arn) == [
        {
            "name": "s-20261128T0300",
            "input": {
                "dpc": {
                    "period": "2026-11-27",
                    "trigger_id": None,
                    "causes": [],
                    "rerun_of": None,
                    "propagate": True,
                }
            },
        }
    ]


def test_an_hourly_schedule_names_each_tick_and_processes_its_hour(sfn: Any) -> None:
    arn = machine(sfn, "dpc-clicks-hourly")
    the_starter = starter(sfn, arn, "hour", -3600)
    for minute in ("05:00", "06:00"):
        the_starter.handle({"kind": "schedule", "time": f"2026-11-28T{minute}:00Z"})
    runs = sorted(executions(sfn, arn), key=lambda r: r["name"])
    assert [(r["name"], r["input"]["dpc"]["period"]) for r in runs] == [
        ("s-20261128T0500", "2026-11-28T04"),
        ("s-20261128T0600", "2026-11-28T05"),
    ]


def test_any_other_error_raises_so_the_asynchronous_retries_apply(sfn: Any) -> None:
    # Given a starter whose state machine does not exist (deleted, or a wrong ARN)
    arn = f"arn:aws:states:eu-west-1:{ACCOUNT}:stateMachine:dpc-gone"
    # Then the start is not taken for a repeat: the error reaches Lambda
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        starter(sfn, arn).handle({"kind": "schedule", "time": "2026-11-28T03:00:00Z"})


def test_an_event_of_unknown_kind_is_an_error_not_a_start(sfn: Any) -> None:
    arn = machine(sfn)
    with pytest.raises(ValueError, match="unknown event kind"):
        starter(sfn, arn).handle({"pipeline": "pipeline-x", "causes": []})
    assert executions(sfn, arn) == []


def test_the_cli_functions_start_a_manual_run_once_per_name(sfn: Any) -> None:
    # What dpc run/rerun/backfill import: the §6 input and an idempotent start
    arn = machine(sfn)
    period = PeriodSpec("day", timedelta(0)).at(datetime(2026, 11, 27, 12, tzinfo=UTC))
    dpc_input = execution_input(period, rerun_of="t-abc", propagate=False)
    assert dpc_input == {
        "dpc": {
            "period": "2026-11-27",
            "trigger_id": None,
            "causes": [],
            "rerun_of": "t-abc",
            "propagate": False,
        }
    }
    assert start_run(sfn, arn, "r-2026-11-27-0a1b2c3d", dpc_input) is True
    assert start_run(sfn, arn, "r-2026-11-27-0a1b2c3d", dpc_input) is False
    assert [r["input"] for r in executions(sfn, arn)] == [dpc_input]
