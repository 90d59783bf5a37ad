"""Users never see jsii's Node.js warnings: dpc.infra sets what silences them before aws_cdk
starts the jsii runtime, and the sandbox's synthesis goes through the same function."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
JSII_VARIABLES = (
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION",
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION",
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION",
    "JSII_DEPRECATED",
)


def _stderr_of(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in JSII_VARIABLES}
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, check=True
    )
    return completed.stderr


def test_importing_the_constructs_starts_jsii_without_node_warnings() -> None:
    # Given a user environment that sets none of jsii's switches
    # When dpc's constructs are imported (aws_cdk and the jsii runtime start)
    stderr = _stderr_of("import dpc.infra.app; import aws_cdk; aws_cdk.App()")
    # Then jsii said nothing about the Node.js version
    assert "node" not in stderr.lower(), stderr


def test_silence_jsii_keeps_what_the_user_set() -> None:
    code = (
        "import os; os.environ['JSII_DEPRECATED'] = 'warn'; "
        "from dpc.infra import silence_jsii; silence_jsii(); "
        "import sys; print(os.environ['JSII_DEPRECATED'], "
        "os.environ['JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION'], file=sys.stderr)"
    )
    assert _stderr_of(code).split() == ["warn", "20"]
