"""The Lambda asset is a staged subset of dpc: every handler must import from it alone
(the APIs read pipeline.yaml's name rules from dpc.schemas, so it ships in the asset)."""

from __future__ import annotations

import os
import subprocess
import sys

HANDLERS = (
    "dependencies_publisher",
    "slack_channel_publisher",
    "slack_poster",
    "execution_tracker",
    "trigger_manager",
    "registration_provider",
)


def test_every_handler_imports_from_the_staged_asset_alone() -> None:
    from dpc.infra.lambda_code import staged_lambda_source

    root = staged_lambda_source()
    code = "; ".join(
        [*(f"import dpc.lambdas.{name}" for name in HANDLERS), "import dpc; print(dpc.__file__)"]
    )
    environment = {**os.environ, "PYTHONPATH": str(root), "AWS_DEFAULT_REGION": "eu-west-1"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(root))
