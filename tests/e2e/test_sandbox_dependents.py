"""Who may depend on whom (issue 12, item 3), black box: listings (account A) accepts
dependents from account C only. Team B's `dpc deploy` of a pipeline waiting for listings is
refused by the central registry, with the one-line reason CloudFormation reports; team C's
pipeline-x, deployed the same way, is accepted.

The deploy goes through dpc's DeployService as `dpc deploy` does, with the sandbox's deploy
options (CreateStack rather than a change set: moto's ExecuteChangeSet cannot resolve the
user stack's exports, DESIGN §8); the registration runs as on AWS, through the pipeline
stack's custom resource, the account's registration provider and the signed API call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dpc.errors import DpcError
from dpc.sandbox import deployer
from dpc.sandbox.org import Timings, load_projects
from dpc.sandbox.sandbox import Sandbox
from dpc.sandbox.server import CASE_STUDY_ACCOUNTS, CENTRAL_ACCOUNT
from dpc.spec.loader import load_pipeline

pytestmark = pytest.mark.slow

A, B, C = "111111111111", "222222222222", "333333333333"


def project(root: Path, name: str, account: str, *lines: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "run.sh").write_text("echo ok\n")
    text = [f"name: {name}", f'account: "{account}"', *lines]
    text += ["steps:", "  - {name: s, type: shell, script: run.sh}"]
    (folder / "pipeline.yaml").write_text("\n".join(text) + "\n")
    return folder


WAITS_FOR_LISTINGS = (
    "trigger:",
    "  executions:",
    f'    allOf: [{{name: listings, account: "{A}", status: [SUCCESS]}}]',
)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, Path]]:
    root = tmp_path_factory.mktemp("org")
    project(
        root, "listings", A, "trigger: {schedule: {hour: 3}}", f'dependents: {{accounts: ["{C}"]}}'
    )
    project(root, "pipeline-x", C, *WAITS_FOR_LISTINGS)
    with Sandbox(accounts=CASE_STUDY_ACCOUNTS) as sandbox:
        # The central account admits A, B and C; each team sets up its account
        urls = deployer.setup_central(sandbox, CENTRAL_ACCOUNT, (A, B, C), Timings())
        for account in (A, B, C):
            deployer.setup_user(sandbox, account, CENTRAL_ACCOUNT, urls, Timings())
        for pipeline in load_projects(root):
            deployer.deploy_pipeline(sandbox, pipeline, Timings())
        yield sandbox, tmp_path_factory.mktemp("team-b")


def _edges_of_listings(sandbox: Sandbox) -> set[str]:
    dynamodb = sandbox.client(CENTRAL_ACCOUNT, "dynamodb")
    (table,) = [t for t in dynamodb.list_tables()["TableNames"] if "Dependencies" in t]
    items = dynamodb.scan(TableName=table)["Items"]
    return {
        item["sk"]["S"].removeprefix("CHILD#")
        for item in items
        if item["pk"]["S"] == f"PIPELINE#listings@{A}" and item["sk"]["S"].startswith("CHILD#")
    }


def test_a_pipeline_of_an_account_listings_does_not_admit_cannot_be_deployed(deployed) -> None:
    sandbox, team_b = deployed
    # Given pipeline-x (account C, admitted) registered as listings' child
    assert _edges_of_listings(sandbox) == {f"pipeline-x@{C}"}
    # When team B deploys a pipeline waiting for listings into its own account
    folder = project(team_b, "metrics-b", B, *WAITS_FOR_LISTINGS)
    # (its stack deploys; its registration custom resource fails, failing the deploy)
    with pytest.raises(DpcError) as refused:
        deployer.deploy_pipeline(sandbox, load_pipeline(folder), Timings())
    # Then the deploy fails with the registry's reason, and listings gained no child
    assert (
        f"metrics-b@{B} cannot wait for listings@{A}: listings@{A} does not accept dependents "
        f"from account {B}; its owners can add it to dependents.accounts"
    ) in " ".join(str(refused.value).split())
    assert _edges_of_listings(sandbox) == {f"pipeline-x@{C}"}
