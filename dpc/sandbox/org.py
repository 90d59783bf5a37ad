"""Deploying a folder of projects into the sandbox, exactly as a platform team and its user
teams would on AWS: ``setup-central-account``, one ``setup-user-account`` per account,
one ``deploy`` per pipeline, each with that account's credentials, through dpc's own
synthesis and deploy code. What moto does not run (custom resources, the REST APIs, the
Slack token) the sandbox then provides from what was deployed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dpc.sandbox import deployer
from dpc.sandbox.deployer import Timings as Timings
from dpc.sandbox.sandbox import Sandbox
from dpc.spec.model import Pipeline

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DeployedOrg:
    pipelines: tuple[Pipeline, ...]
    central_account: str
    user_accounts: tuple[str, ...]
    api_urls: dict[str, str]
    """The central REST APIs as the sandbox serves them, by API name (for more accounts)."""


def load_projects(org_dir: Path) -> tuple[Pipeline, ...]:
    """Every pipeline below ``org_dir``, validated together; each must name its account
    (the sandbox has no "deploy credentials" to default it from)."""
    from dpc.errors import DpcError
    from dpc.spec.loader import load_org

    org = load_org([org_dir])
    missing = [p.name for p in org.pipelines if p.account is None]
    if missing:
        raise DpcError(
            f"{org_dir}: pipelines without an account: {', '.join(missing)}; the sandbox "
            "needs `account:` in each pipeline.yaml to know where to deploy it"
        )
    return org.pipelines


def accounts_for(pipelines: tuple[Pipeline, ...], central: str) -> dict[str, str]:
    accounts = {"central": central}
    for pipeline in pipelines:
        assert pipeline.account is not None
        accounts.setdefault(pipeline.account, pipeline.account)
    return accounts


def deploy_org(
    sandbox: Sandbox,
    pipelines: tuple[Pipeline, ...],
    *,
    timings: Timings,
    progress: Progress = lambda _: None,
) -> DeployedOrg:
    central = sandbox.server.account_id("central")
    user_accounts = tuple(sorted({p.account for p in pipelines if p.account}))

    progress(f"setup-central-account in {central}")
    urls = deployer.setup_central(sandbox, central, user_accounts, timings)
    for account in user_accounts:
        progress(f"setup-user-account in {account}")
        deployer.setup_user(sandbox, account, central, urls, timings)
    for pipeline in pipelines:
        progress(f"deploy {pipeline.name} to {pipeline.account}")
        deployer.deploy_pipeline(sandbox, pipeline, timings)
    return DeployedOrg(pipelines, central, user_accounts, urls)
