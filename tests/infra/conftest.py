"""Synthesize each dpc app once per test session: CDK synthesis is slow on small machines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
CENTRAL_ACCOUNT = "999999999999"
USER_ACCOUNTS = ("111111111111", "222222222222", "333333333333")


def _templates(synthesis: Any) -> dict[str, dict[str, Any]]:
    return {s.name: json.loads(s.template_file.read_text()) for s in synthesis.stacks}


@pytest.fixture(scope="session")
def case_study_pipelines() -> dict[str, Any]:
    from dpc.spec.loader import load_pipeline

    return {
        name: load_pipeline(SAMPLES / "case-study" / name)
        for name in ("listings", "searches", "pipeline-x")
    }


@pytest.fixture(scope="session")
def case_study_synthesis(
    tmp_path_factory: pytest.TempPathFactory, case_study_pipelines: Any
) -> Any:
    from dpc.infra.app import synth_pipelines

    return synth_pipelines(case_study_pipelines.values(), tmp_path_factory.mktemp("pipelines"))


@pytest.fixture(scope="session")
def pipeline_templates(case_study_synthesis: Any) -> dict[str, dict[str, Any]]:
    """Pipeline name → its synthesized stack template."""
    return {
        name.removeprefix("dpc-pipeline-"): template
        for name, template in _templates(case_study_synthesis).items()
    }


@pytest.fixture(scope="session")
def central_synthesis(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from dpc.infra.app import synth_central

    return synth_central(tmp_path_factory.mktemp("central"), user_accounts=USER_ACCOUNTS)


@pytest.fixture(scope="session")
def central_template(central_synthesis: Any) -> dict[str, Any]:
    return _templates(central_synthesis)["dpc-central"]


@pytest.fixture(scope="session")
def org_central_template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from dpc.infra.app import synth_central

    synthesis = synth_central(tmp_path_factory.mktemp("central-org"), organization_id="o-abc123")
    return _templates(synthesis)["dpc-central"]


@pytest.fixture(scope="session")
def user_synthesis(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from dpc.infra.app import synth_user_account

    return synth_user_account(
        tmp_path_factory.mktemp("user"),
        central_account=CENTRAL_ACCOUNT,
        api_url="https://abc123.execute-api.eu-west-1.amazonaws.com/v1/",
        slack_api_url="https://def456.execute-api.eu-west-1.amazonaws.com/v1/",
    )


@pytest.fixture(scope="session")
def user_template(user_synthesis: Any) -> dict[str, Any]:
    return _templates(user_synthesis)["dpc-user-account"]
