"""Every synthesized template is clean for cfn-lint (zero errors) and passed cdk-nag.

cdk-nag runs inside synthesis (a validation plugin): a finding without a written
acknowledgement stops synthesis, so these fixtures existing at all means zero unsuppressed
findings; the test on a deliberately bad stack proves the gate is really there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def _errors(template_file: Path) -> list[str]:
    from cfnlint.api import lint_file

    return [
        f"{m.rule.id} {m.message} ({m.filename}:{m.linenumber})"
        for m in lint_file(template_file)
        if m.rule.severity == "error"
    ]


@pytest.mark.parametrize(
    "synthesis", ["case_study_synthesis", "central_synthesis", "user_synthesis"]
)
def test_cfn_lint_reports_no_error(synthesis: str, request: pytest.FixtureRequest) -> None:
    stacks = request.getfixturevalue(synthesis).stacks
    assert stacks
    for stack in stacks:
        assert _errors(stack.template_file) == [], stack.name


def test_an_unacknowledged_nag_finding_stops_synthesis(tmp_path: Any) -> None:
    from aws_cdk import Stack
    from aws_cdk import aws_sqs as sqs

    from dpc.infra.app import NagFindings, new_app, synthesize

    # Given a stack with an unencrypted, non-TLS queue and no acknowledgement
    app = new_app(tmp_path)
    sqs.Queue(Stack(app, "Careless"), "Queue", encryption=sqs.QueueEncryption.UNENCRYPTED)
    # When it is synthesized, then cdk-nag's findings come back as a dpc error
    with pytest.raises(NagFindings) as raised:
        synthesize(app)
    assert any("AwsSolutions-SQS4" in f and "Careless/Queue" in f for f in raised.value.findings)
