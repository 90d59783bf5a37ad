"""`dpc run` and `dpc rerun` on moto Step Functions: the §6 input, the period, and bad input
refused before anything starts."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from dpc.cli.app import app

LISTINGS = Path(__file__).parents[2] / "samples" / "case-study" / "listings"
A = "111111111111"
MACHINE = f"arn:aws:states:eu-west-1:{A}:stateMachine:dpc-listings"


@pytest.fixture
def sfn() -> Iterator[Any]:
    """moto in account A (the listings team's), with listings' state machine deployed."""
    environment = {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "MOTO_ACCOUNT_ID": A,
    }
    with mock.patch.dict(os.environ, environment), mock_aws():
        os.environ.pop("AWS_ENDPOINT_URL", None)
        client = boto3.client("stepfunctions")
        client.create_state_machine(
            name="dpc-listings",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
            roleArn=f"arn:aws:iam::{A}:role/sfn",
        )
        yield client


def dpc(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def inputs(sfn: Any) -> list[dict[str, Any]]:
    executions = sfn.list_executions(stateMachineArn=MACHINE)["executions"]
    return [
        json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])
        for e in executions
    ]


def test_run_starts_the_state_machine_with_the_section_6_input_for_the_period(sfn: Any) -> None:
    code, stdout, stderr = dpc("run", str(LISTINGS), "--period", "2026-11-27", "--json")
    assert code == 0, stderr
    [started] = json.loads(stdout)
    assert started["period"] == "2026-11-27" and started["execution"].startswith("m-2026-11-27-")
    assert inputs(sfn) == [
        {
            "dpc": {
                "period": "2026-11-27",
                "trigger_id": None,
                "causes": [],
                "rerun_of": None,
                "propagate": True,
            }
        }
    ]


def test_rerun_keeps_the_originals_period_and_can_stop_children(sfn: Any) -> None:
    dpc("run", str(LISTINGS), "--period", "2026-11-26")
    original = sfn.list_executions(stateMachineArn=MACHINE)["executions"][0]["name"]
    code, stdout, stderr = dpc("rerun", original, "--no-downstream", "--json")
    assert code == 0, stderr
    [started] = json.loads(stdout)
    assert started["pipeline"] == "listings" and started["rerun_of"] == original
    rerun = next(i for i in inputs(sfn) if i["dpc"]["rerun_of"])
    assert rerun["dpc"]["period"] == "2026-11-26"
    assert rerun["dpc"]["propagate"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", str(LISTINGS), "--period", "2026-13-01"], "month 13 is not 01 to 12"),
        (["run", str(LISTINGS), "--period", "2026-W54"], "is a week, expected a day period"),
        (
            ["backfill", str(LISTINGS), "--from", "2026-11-05", "--to", "2026-11-01"],
            "'2026-11-05' is after '2026-11-01'",
        ),
        (
            ["backfill", str(LISTINGS), "--from", "2026-11-01", "--to", "2026-11-05T03"],
            "is an hour, expected a day period",
        ),
    ],
)
def test_bad_periods_are_refused_and_nothing_starts(
    sfn: Any, args: list[str], message: str
) -> None:
    code, _, stderr = dpc(*args)
    assert code == 2
    assert message in " ".join(stderr.split())
    assert inputs(sfn) == []


def test_rerun_of_an_unknown_execution_is_a_clear_error(sfn: Any) -> None:
    code, _, stderr = dpc("rerun", "nope")
    assert code == 1
    assert "no dpc pipeline in this account has an execution named 'nope'" in stderr
