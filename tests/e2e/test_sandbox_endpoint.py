"""The new user's session of issue 13: `dpc sandbox up` in one shell, and in another, with
account C's keys pasted, `dpc create-project`, `dpc deploy` (change sets, the user stack's
exports, the pipeline's registration) — once refused, then retried —, a virtual day,
`dpc destroy`; boto3 as a plain
client reads what happened. The sandbox is an endpoint: nothing here tells dpc it is not
AWS."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sandbox_up_process import (
    SAFETY_TIMEOUT,
    C,
    as_user,
    aws_client,
    sandbox_up_process,
    shell,
    with_keys_of,
)

pytestmark = pytest.mark.slow

DEPENDS_ON_PIPELINE_X = f"""trigger:
  executions:
    allOf:
      - name: pipeline-x
        account: "{C}"
        status: [SUCCESS]
"""

TEAM_B_CHANNEL = """notifications:
  type: ON_FAILURE
  targets:
    - {channel: SLACK, addresses: [searches-alerts]}
"""


def _report_x(environment: dict[str, str], folder: Path) -> Path:
    """`dpc create-project`, then made to depend on pipeline-x (its Spark step left out:
    the machine may have no spark-submit)."""
    created = shell(environment, "create-project", "-n", "report-x", "--account", C, cwd=folder)
    assert created.returncode == 0, created.stderr
    yaml_file = folder / "report-x" / "pipeline.yaml"
    text = re.sub(r"trigger:\n(  .*\n)+", DEPENDS_ON_PIPELINE_X, yaml_file.read_text())
    text = re.sub(r"  - name: aggregate\n(    .*\n)+", "", text)
    yaml_file.write_text(text)
    return folder / "report-x"


def test_a_new_project_deployed_from_another_shell_runs_after_its_parent(
    tmp_path: Path,
) -> None:
    with sandbox_up_process(tmp_path) as sandbox:
        hello = sandbox.next_json()
        account_c = with_keys_of(hello, "C")
        project = _report_x(account_c, tmp_path)
        yaml_file = project / "pipeline.yaml"
        good_yaml = yaml_file.read_text()

        # Given a first attempt that alerts into team B's channel (searches-alerts)
        yaml_file.write_text(good_yaml + TEAM_B_CHANNEL)
        refused = shell(account_c, "deploy", str(project), "--yes")
        # Then the deploy fails with the registry's reason in one line, no traceback
        assert refused.returncode == 1
        assert "Traceback" not in refused.stderr
        assert "searches-alerts" in refused.stderr

        # When the user fixes the channel and simply deploys again with account C's keys
        yaml_file.write_text(good_yaml)
        deployed = shell(account_c, "deploy", str(project), "--yes")

        # Then it is created through a change set (the user stack's exports imported)
        assert deployed.returncode == 0, deployed.stderr
        assert "Traceback" not in deployed.stderr
        events = aws_client(account_c, "events")
        rules = events.list_rules(EventBusName="dpc-pipeline-bus")["Rules"]
        assert "dpc-report-x-trigger" in {r["Name"] for r in rules}
        # and registered centrally, as its custom resource asks
        graph = as_user(hello["environment"], "graph", "--central", "--format", "json")
        assert "report-x" in str(graph)

        # When a virtual day passes
        happened, now = sandbox.command("advance 1d")

        # Then report-x ran after pipeline-x, and `dpc runs` says so
        triggered = [e["trigger"]["pipeline"] for e in happened if "trigger" in e]
        assert triggered.index("report-x") > triggered.index("pipeline-x")
        runs = as_user(hello["environment"], "runs", "--json", "--since", "1d", "--until", now)
        (report,) = [r for r in runs if r["pipeline"] == "report-x"]
        assert report["status"] == "SUCCEEDED"
        assert report["triggered_by"] == f"pipeline-x@{C} SUCCEEDED"
        states = aws_client(account_c, "stepfunctions")
        machines = states.list_state_machines()["stateMachines"]
        (machine,) = [m for m in machines if m["name"] == "dpc-report-x"]
        executions = states.list_executions(stateMachineArn=machine["stateMachineArn"])
        assert [e["status"] for e in executions["executions"]] == ["SUCCEEDED"]

        # When it is destroyed, its rule is gone and the central registry forgot it
        destroyed = shell(account_c, "destroy", str(project), "--yes")
        assert destroyed.returncode == 0, destroyed.stderr
        rules = events.list_rules(EventBusName="dpc-pipeline-bus")["Rules"]
        assert "dpc-report-x-trigger" not in {r["Name"] for r in rules}
        graph = as_user(hello["environment"], "graph", "--central", "--format", "json")
        assert "report-x" not in str(graph)

        sandbox.quit()
        assert sandbox.process.wait(timeout=SAFETY_TIMEOUT) == 0
