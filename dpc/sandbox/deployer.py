"""The three deploy commands, run against the sandbox with dpc's own code.

Synthesis is ``dpc.infra.app`` (as ``dpc synth`` / ``dpc deploy``), deployment is
``dpc.infra.deploy.DeployService`` with the account's credentials and the sandbox
endpoint, exactly as a user's `dpc deploy` in another shell: what moto lacks (template
fixups, change sets, custom resources, the REST APIs, the Slack token) happens at the
endpoint (``dpc.sandbox.cloudformation``, ``Sandbox``), for this caller as for any other.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dpc.sandbox.sandbox import Sandbox
from dpc.spec.model import Pipeline

DEPENDENCY_API_NAME = "dpc-dependency-api"
SLACK_API_NAME = "dpc-slack-api"


@dataclass
class Timings:
    """Wall-clock seconds per phase, as ``--timings`` prints them."""

    synth: float = 0.0
    deploy: float = 0.0
    run: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    @property
    def total(self) -> float:
        return time.perf_counter() - self.started

    def as_json(self) -> dict[str, float]:
        return {
            "synth_seconds": round(self.synth, 2),
            "deploy_seconds": round(self.deploy, 2),
            "run_seconds": round(self.run, 2),
            "total_seconds": round(self.total, 2),
        }


def _service(sandbox: Sandbox, account: str) -> Any:
    from dpc.infra.deploy import DeployService

    return DeployService(
        session=sandbox.server.session(account),
        endpoint_url=sandbox.server.endpoint,
        region=sandbox.server.region,
        poll_seconds=0.05,
    )


def _deploy(sandbox: Sandbox, account: str, synthesis: Any, timings: Timings) -> None:
    from dpc.infra.deploy import deploy_assembly

    began = time.perf_counter()
    deploy_assembly(_service(sandbox, account), synthesis.directory)
    timings.deploy += time.perf_counter() - began


def _synth(timings: Timings, build: Any, *args: Any, **kwargs: Any) -> Any:
    from dpc.infra import silence_jsii

    silence_jsii()
    began = time.perf_counter()
    outdir = Path(tempfile.mkdtemp(prefix="dpc-sandbox-synth-"))
    synthesis = build(outdir, *args, **kwargs)
    timings.synth += time.perf_counter() - began
    return synthesis


def setup_central(
    sandbox: Sandbox, central: str, user_accounts: Sequence[str], timings: Timings
) -> dict[str, str]:
    """``dpc setup-central-account --accounts …``; returns the served API URLs by name."""
    from dpc.infra.app import synth_central

    synthesis = _synth(timings, synth_central, user_accounts=list(user_accounts))
    _deploy(sandbox, central, synthesis, timings)
    return {
        api.name: sandbox.gateway.url(api)
        for (account, _), api in sandbox.gateway.apis.items()
        if account == central
    }


def setup_user(
    sandbox: Sandbox, account: str, central: str, urls: dict[str, str], timings: Timings
) -> None:
    """``dpc setup-user-account --central-account … --api-url … --slack-api-url …``."""
    from dpc.infra.app import synth_user_account

    synthesis = _synth(
        timings,
        synth_user_account,
        central_account=central,
        api_url=urls.get(DEPENDENCY_API_NAME, ""),
        slack_api_url=urls.get(SLACK_API_NAME, ""),
    )
    from dpc.infra.emr_tls import ensure_tls_certificates

    ensure_tls_certificates(_service(sandbox, account))
    _deploy(sandbox, account, synthesis, timings)


def deploy_pipeline(sandbox: Sandbox, pipeline: Pipeline, timings: Timings) -> None:
    """``dpc deploy`` of one project, in its own account."""
    from dpc.infra.app import synth_pipelines

    assert pipeline.account is not None
    synthesis = _synth(timings, lambda outdir: synth_pipelines([pipeline], outdir))
    _deploy(sandbox, pipeline.account, synthesis, timings)
