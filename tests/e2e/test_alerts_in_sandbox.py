"""A pipeline whose step really fails, in the sandbox: one Slack thread with the run's
messages, and the same messages by e-mail (`dpc sandbox run ORG --json`)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from dpc.cli.app import app

pytestmark = pytest.mark.slow

PIPELINE = """\
name: nightly-export
account: "111111111111"
trigger: {schedule: {hour: 3}}
steps:
  - {name: prepare, type: shell, script: scripts/prepare.sh}
  - {name: upload, type: shell, script: scripts/upload.sh}
  - {name: cleanup, type: shell, script: scripts/prepare.sh}
notifications:
  type: FULL_EXECUTION
  targets:
    - {channel: SLACK, addresses: [export-alerts]}
    - {channel: EMAIL, addresses: [data-team@example.com]}
"""


@pytest.fixture(scope="module")
def alerts(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    org = tmp_path_factory.mktemp("org")
    project = org / "nightly-export"
    (project / "scripts").mkdir(parents=True)
    (project / "pipeline.yaml").write_text(PIPELINE)
    (project / "scripts" / "prepare.sh").write_text("#!/bin/sh\necho ready\n")
    (project / "scripts" / "upload.sh").write_text(
        "#!/bin/sh\necho 'bucket s3://exports does not exist' >&2\nexit 3\n"
    )
    result = CliRunner().invoke(app, ["sandbox", "run", str(org), "--days", "1", "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return [line["alert"] for line in lines if "alert" in line]


def headlines(alerts: list[dict[str, Any]], channel: str) -> list[str]:
    return [a["text"].splitlines()[0] for a in alerts if a["channel"] == channel]


def test_the_failed_run_is_one_slack_thread_in_order(alerts: list[dict[str, Any]]) -> None:
    slack = [a for a in alerts if a["channel"] == "SLACK"]
    assert {a["to"] for a in slack} == {"export-alerts"}
    assert len({a["thread"] for a in slack}) == 1
    assert headlines(alerts, "SLACK") == [
        "[dpc] nightly-export: run started",
        "[dpc] nightly-export: step prepare started",
        "[dpc] nightly-export: step prepare SUCCEEDED",
        "[dpc] nightly-export: step upload started",
        "[dpc] nightly-export: step upload FAILED",
        "[dpc] nightly-export: run FAILED at step upload",
    ]


def test_the_same_messages_reach_the_email_address(alerts: list[dict[str, Any]]) -> None:
    emails = [a for a in alerts if a["channel"] == "EMAIL"]
    assert {a["to"] for a in emails} == {"data-team@example.com"}
    assert headlines(alerts, "EMAIL") == headlines(alerts, "SLACK")


def test_the_failure_message_says_where_and_links_the_console(
    alerts: list[dict[str, Any]],
) -> None:
    failure = next(a["text"] for a in alerts if "run FAILED" in a["text"])
    lines = failure.splitlines()
    assert "Step:      upload" in lines
    assert "Account:   111111111111" in lines
    assert any(line.startswith("Duration:  ") for line in lines)
    (error,) = [line for line in lines if line.startswith("Error:     ")]
    assert "bucket s3://exports does not exist" in error  # what the step said before failing
    assert lines[-1].startswith("Console:   https://")
    assert ":execution:dpc-nightly-export:" in lines[-1]
