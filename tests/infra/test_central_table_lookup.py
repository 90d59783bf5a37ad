"""`dpc runs` / `dpc why` find the central tables by their CDK logical ids: this breaks loudly if
the central stack's construct ids change."""

from __future__ import annotations

from typing import Any

import pytest

from dpc.lambdas.tables import DEPENDENCIES, RUN_LOG, TRIGGER_STATE, Table
from dpc.observe.aws import table_name


class DeployedStack:
    """What CloudFormation's ListStackResources returns for the synthesized central stack."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.summaries = [
            {
                "LogicalResourceId": logical_id,
                "PhysicalResourceId": f"dpc-central-{logical_id}-X1Y2Z3",
                "ResourceType": resource["Type"],
            }
            for logical_id, resource in template["Resources"].items()
        ]

    def get_paginator(self, operation: str) -> DeployedStack:
        assert operation == "list_stack_resources"
        return self

    def paginate(self, StackName: str) -> list[dict[str, Any]]:
        assert StackName == "dpc-central"
        return [{"StackResourceSummaries": self.summaries}]


@pytest.mark.slow
@pytest.mark.parametrize(
    "table", [RUN_LOG, DEPENDENCIES, TRIGGER_STATE], ids=lambda t: t.logical_id
)
def test_each_central_table_is_found_in_the_synthesized_stack(
    table: Table, central_template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(table.env_var, raising=False)

    found = table_name(table, DeployedStack(central_template))

    resource = found.removeprefix("dpc-central-").removesuffix("-X1Y2Z3")
    assert central_template["Resources"][resource]["Type"] == "AWS::DynamoDB::Table"
    assert resource.startswith(f"Tables{table.logical_id}")
