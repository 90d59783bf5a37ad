"""Least privilege for dpc's Lambdas (issue 12 item 4): no AWS-managed policy (the basic
execution role's ``logs:*`` reaches every log group of the account), and a function writes
only into its own log group."""

from __future__ import annotations

from typing import Any

import pytest
from infra_helpers import as_list, policy_statements, resources, templates_of

pytestmark = pytest.mark.slow

TEMPLATES = ("central_template", "user_template", "pipeline_templates")


def _templates(request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    return templates_of(request, TEMPLATES)


def _grants_of(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    return [
        statement
        for logical_id, statement in policy_statements(template)
        if logical_id == role_id
        or {"Ref": role_id} in template["Resources"][logical_id]["Properties"].get("Roles", [])
    ]


def test_every_function_writes_only_its_own_log_group(request: pytest.FixtureRequest) -> None:
    for where, template in _templates(request).items():
        functions = resources(template, "AWS::Lambda::Function")
        assert functions, where
        for logical_id, function in functions.items():
            props = function["Properties"]
            role_id = props["Role"]["Fn::GetAtt"][0]
            role = template["Resources"][role_id]["Properties"]
            assert not role.get("ManagedPolicyArns"), (where, logical_id)
            own_group = props["LoggingConfig"]["LogGroup"]
            log_grants = [
                s
                for s in _grants_of(template, role_id)
                if any(a.startswith("logs:") for a in as_list(s["Action"]))
            ]
            assert log_grants, (where, logical_id)
            for statement in log_grants:
                assert set(as_list(statement["Action"])) == {
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                }, (where, logical_id)
                assert as_list(statement["Resource"]) == [
                    {"Fn::GetAtt": [own_group["Ref"], "Arn"]}
                ], (where, logical_id)
