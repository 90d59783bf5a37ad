"""`dpc demo --chaos 7` (issue 11's "done when"): the three-day demo under faults ends with
exactly the runs of `dpc demo`. Its own module, so it runs beside the other chaos runs."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dpc.cli.app import app

pytestmark = pytest.mark.slow


def test_dpc_demo_chaos_7_ends_with_exactly_the_runs_of_dpc_demo():
    result = CliRunner().invoke(app, ["demo", "--chaos", "7", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])["chaos"]
    assert summary["same_runs_as_clean"] is True
    assert summary["seed"] == 7
    # and the faults really happened
    assert summary["faults"]["failed invocations"] > 0
    assert summary["faults"]["duplicate deliveries"] > 0
    assert summary["faults"]["DynamoDB requests throttled"] > 0
    assert summary["faults"]["crashes between record and publish"] > 0
