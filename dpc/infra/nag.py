"""cdk-nag on every synthesis, and acknowledgements that always carry their reason.

Every dpc app registers the AwsSolutions pack as a CDK validation plugin (cdk-nag v3), so
an unacknowledged finding stops synthesis with cdk-nag's report. Acknowledgements go
through ``suppress`` so a reason is mandatory and sits next to the resource it excuses.
cdk-nag v3 matches findings exactly: a rule that reports several findings per resource
(IAM5 wildcards) is acknowledged finding by finding (``findings``).
"""

from __future__ import annotations

from collections.abc import Sequence

import cdk_nag
from aws_cdk import Acknowledgment, App, Validations
from constructs import Construct, IConstruct

NAG_PACK = "AwsSolutions"


def apply_nag(app: App) -> None:
    Validations.of(app).add_plugins(cdk_nag.AwsSolutionsChecks(app))


def suppress(
    construct: IConstruct, rule_id: str, reason: str, *, findings: Sequence[str] = ()
) -> None:
    """Acknowledge ``rule_id`` on ``construct`` and its children (only ``findings`` if given,
    e.g. ``Resource::*`` for ``AwsSolutions-IAM5[Resource::*]``). A Lambda function's grants
    land on its role, which dpc builds beside the function: the role is included."""
    ids = [f"{NAG_PACK}::{rule_id}[{finding}]" for finding in findings] or [
        f"{NAG_PACK}::{rule_id}"
    ]
    acknowledgments = [Acknowledgment(id=i, reason=reason) for i in ids]
    Validations.of(construct).acknowledge(*acknowledgments)
    role = getattr(construct, "role", None)
    if isinstance(role, Construct) and role.node.scope is not construct:
        Validations.of(role).acknowledge(*acknowledgments)


def findings_from_report(assembly_dir: str) -> list[str]:
    """``rule: construct path`` for every violation in the validation report of a failed
    synthesis (CDK writes it to the cloud assembly)."""
    import json
    from pathlib import Path

    report = json.loads(Path(assembly_dir, "validation-report.json").read_text())
    return [
        f"{violation['ruleName']}: {construct['constructPath']} ({violation['description']})"
        for plugin in report.get("pluginReports", [])
        for violation in plugin.get("violations", [])
        for construct in violation.get("violatingConstructs", [])
    ]
