"""The infrastructure commands are registered on the root app, yet `dpc --help`,
`dpc deploy --help` and `dpc validate` must not pay for aws_cdk, boto3 or moto."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
from typer.testing import CliRunner
from dpc.cli.app import app
runner = CliRunner()
codes = [runner.invoke(app, args).exit_code for args in (
    ["--help"], ["deploy", "--help"], ["setup-central-account", "--help"],
    ["validate", "samples/case-study"],
)]
heavy = [m for m in ("aws_cdk", "jsii", "boto3", "botocore", "moto") if m in sys.modules]
print(codes, heavy)
"""


def test_help_and_validate_import_nothing_heavy() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert completed.stdout.strip() == "[0, 0, 0, 0] []", completed.stderr
