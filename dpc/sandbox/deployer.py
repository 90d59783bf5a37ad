"""The three deploy commands, run against the sandbox with dpc's own code.

Synthesis is ``dpc.infra.app`` (as ``dpc synth`` / ``dpc deploy``), deployment is
``dpc.infra.deploy.DeployService`` with the account's credentials and the sandbox
endpoint, plus the one sandbox hook: ``prepare_template``, which applies
``dpc.sandbox.template_fixups.for_moto`` and keeps each resource it drops, verbatim, under
the template's ``Metadata.DpcSandboxDropped``. The deployed template (``GetTemplate``) thus
still holds the REST APIs' routes, which the sandbox then serves (``gateway``).

After each stack: the sandbox sends its custom resources their requests, and after the
central stack it serves the REST APIs and stores the Slack token (moto keeps no secret
from a template) so the Slack poster can read it.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dpc.sandbox.gateway import rest_apis
from dpc.sandbox.org import Timings
from dpc.sandbox.sandbox import SLACK_TOKEN, Sandbox
from dpc.sandbox.templates import DeployedStack
from dpc.spec.model import Pipeline

DEPENDENCY_API_NAME = "dpc-dependency-api"
SLACK_API_NAME = "dpc-slack-api"
DROPPED_METADATA = "DpcSandboxDropped"


def prepare_template(template: dict[str, Any]) -> dict[str, Any]:
    """``for_moto``, keeping what it drops where the sandbox can read it back."""
    from dpc.sandbox.template_fixups import for_moto

    prepared = for_moto(template)
    fixups = prepared.get("Metadata", {}).get("DpcSandboxFixups", {})
    original = template.get("Resources", {})
    prepared["Metadata"][DROPPED_METADATA] = {
        logical_id: original[logical_id] for logical_id in fixups if logical_id in original
    }
    return prepared


def _service(sandbox: Sandbox, account: str) -> Any:
    from dpc.infra.deploy import DeployService
    from dpc.sandbox.template_fixups import DEPLOY_OPTIONS

    return DeployService(
        session=sandbox.server.session(account),
        endpoint_url=sandbox.server.endpoint,
        region=sandbox.server.region,
        prepare_template=prepare_template,
        poll_seconds=0.05,
        **DEPLOY_OPTIONS,
    )


def _deploy(sandbox: Sandbox, account: str, synthesis: Any, timings: Timings) -> list[str]:
    from dpc.infra.deploy import deploy_assembly

    began = time.perf_counter()
    results = deploy_assembly(_service(sandbox, account), synthesis.directory)
    names = [result.stack_name for result in results]
    sandbox.runtime.forget_stacks(account)
    for name in names:
        sandbox.custom_resources.after_deploy(account, name)
    timings.deploy += time.perf_counter() - began
    return names


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
    names = _deploy(sandbox, central, synthesis, timings)
    urls: dict[str, str] = {}
    cloudformation = sandbox.client(central, "cloudformation")
    for name in names:
        stack = DeployedStack(cloudformation, name, central, sandbox.server.region)
        dropped = stack.template.get("Metadata", {}).get(DROPPED_METADATA, {})
        for api in rest_apis(stack, {**stack.resources, **dropped}):
            urls[api.name] = sandbox.gateway.register(api)
        for secret in stack.of_type("AWS::SecretsManager::Secret"):
            _store_secret(sandbox, central, str(secret.properties.get("Name", secret.logical_id)))
    return urls


def _store_secret(sandbox: Sandbox, account: str, name: str) -> None:
    secrets = sandbox.client(account, "secretsmanager")
    try:
        secrets.create_secret(Name=name, SecretString=SLACK_TOKEN)
    except secrets.exceptions.ResourceExistsException:
        secrets.put_secret_value(SecretId=name, SecretString=SLACK_TOKEN)


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
