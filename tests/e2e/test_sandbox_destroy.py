"""`dpc destroy` in the sandbox: CloudFormation would send the pipeline stack's custom
resources their Delete, so the pipeline leaves the central registry and its Slack channels.
moto never does; the sandbox must, or a destroyed pipeline stays registered (and its
parents keep "triggering" a state machine that no longer exists)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from dpc.cli.app import app
from dpc.constants import ENV_DEPENDENCIES_TABLE, ENV_RUN_LOG_TABLE, ENV_TRIGGER_STATE_TABLE
from dpc.sandbox.org import Timings, deploy_org, load_projects
from dpc.sandbox.sandbox import Sandbox
from dpc.sandbox.server import CASE_STUDY_ACCOUNTS, CENTRAL_ACCOUNT
from dpc.sandbox.story import CASE_STUDY

pytestmark = pytest.mark.slow

A, C = "111111111111", "333333333333"


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    for name in (ENV_RUN_LOG_TABLE, ENV_DEPENDENCIES_TABLE, ENV_TRIGGER_STATE_TABLE):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    with Sandbox(accounts=CASE_STUDY_ACCOUNTS) as sandbox:
        deploy_org(sandbox, load_projects(CASE_STUDY), timings=Timings())
        yield sandbox


def _items(sandbox: Sandbox, table_word: str) -> list[dict[str, Any]]:
    dynamodb = sandbox.client(CENTRAL_ACCOUNT, "dynamodb")
    (table,) = [t for t in dynamodb.list_tables()["TableNames"] if table_word in t]
    items: list[dict[str, Any]] = dynamodb.scan(TableName=table)["Items"]
    return items


def _mentions_pipeline_x(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for item in items if f"pipeline-x@{C}" in json.dumps(item)]


def _graph_nodes(sandbox: Sandbox) -> set[str]:
    with sandbox.server.acting_as(CENTRAL_ACCOUNT):
        result = CliRunner().invoke(app, ["graph", "--central", "--json"])
    assert result.exit_code == 0, result.output
    return {node["pipeline"] for node in json.loads(result.stdout)["nodes"]}


def test_destroying_pipeline_x_removes_it_from_the_central_registry(deployed: Sandbox) -> None:
    # Given the case study deployed: pipeline-x registered, as listings' child too
    registry_before = _items(deployed, "Dependencies")
    assert [
        i
        for i in registry_before
        if i["pk"]["S"] == f"PIPELINE#listings@{A}" and i["sk"]["S"] == f"CHILD#pipeline-x@{C}"
    ]
    assert _mentions_pipeline_x(_items(deployed, "SlackChannels"))
    assert "pipeline-x" in _graph_nodes(deployed)

    # When team C destroys pipeline-x, with its credentials and the sandbox endpoint
    with deployed.server.acting_as(C):
        result = CliRunner().invoke(app, ["destroy", str(CASE_STUDY / "pipeline-x"), "--yes"])

    # Then the stack is gone and the central registry no longer lists it, nor has listings
    # (or anyone) a child pipeline-x; its Slack channels are forgotten too
    assert result.exit_code == 0, result.output
    assert "DELETE_COMPLETE" in result.output
    assert _mentions_pipeline_x(_items(deployed, "Dependencies")) == []
    assert _mentions_pipeline_x(_items(deployed, "SlackChannels")) == []
    assert _graph_nodes(deployed) == {"listings", "searches"}
