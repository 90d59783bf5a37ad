"""A pipeline's EMR cluster and the roles around it (issue 12 items 1, 4): the cluster role
reads only the pipeline's own scripts and writes only its own prefixes, in this account's
buckets; the state machine acts only on clusters tagged with its pipeline and passes roles
to EMR and EC2 only."""

from __future__ import annotations

from typing import Any

import pytest
from infra_helpers import (
    ACCOUNT,
    as_list,
    only,
    policy_statements,
    render,
    resources,
    state_machine_definition,
)

pytestmark = pytest.mark.slow

ASSETS = f"arn:aws:s3:::dpc-assets-{ACCOUNT}-eu-west-1"
ARTIFACTS = f"arn:aws:s3:::dpc-artifacts-{ACCOUNT}-eu-west-1"
OWN_ACCOUNT = {"StringEquals": {"s3:ResourceAccount": ACCOUNT}}


def _statements_of_role(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    return [
        render(statement)
        for logical_id, statement in policy_statements(template)
        if logical_id == role_id
        or {"Ref": role_id} in template["Resources"][logical_id]["Properties"].get("Roles", [])
    ]


def _cluster_role_id(template: dict[str, Any]) -> str:
    (role_id,) = [
        logical_id
        for logical_id, role in resources(template, "AWS::IAM::Role").items()
        if role["Properties"].get("Path") == "/dpc/emr-instance/"
    ]
    return role_id


@pytest.mark.parametrize("name", ["listings", "pipeline-x"])
def test_the_cluster_reads_only_its_own_scripts_and_writes_only_its_own_prefixes(
    pipeline_templates: dict[str, Any], name: str
) -> None:
    template = pipeline_templates[name]
    role_id = _cluster_role_id(template)
    s3 = {
        statement["Sid"]: statement
        for statement in _statements_of_role(template, role_id)
        if statement.get("Sid") != "ReadEmrScriptRunner"
    }
    assert s3["ReadOwnStepScripts"]["Action"] == "s3:GetObject"
    assert s3["ReadOwnStepScripts"]["Resource"] == f"{ASSETS}/assets/pipelines/{name}/*"
    assert as_list(s3["WriteOwnOutputsAndLogs"]["Resource"]) == [
        f"{ARTIFACTS}/pipelines/{name}/*",
        f"{ARTIFACTS}/logs/emr/{name}/*",
    ]
    assert set(s3) == {"ReadOwnStepScripts", "WriteOwnOutputsAndLogs", "ListOwnPrefixes"}
    # a bucket of the same name owned by another account is never read nor written
    assert all(s["Condition"]["StringEquals"] == OWN_ACCOUNT["StringEquals"] for s in s3.values())
    # the cluster is created with this role, through an instance profile of the same name
    profile = only(template, "AWS::IAM::InstanceProfile")["Properties"]
    assert profile["InstanceProfileName"] == {"Ref": role_id}
    create = state_machine_definition(template)["States"]["CreateCluster"]["Parameters"]
    assert create["JobFlowRole"] == f"<{role_id}>"


def test_the_steps_scripts_are_uploaded_under_the_pipelines_own_prefix(
    pipeline_templates: dict[str, Any],
) -> None:
    states = state_machine_definition(pipeline_templates["pipeline-x"])["States"]
    args = str(states["PrepareSteps"]["Parameters"])
    assert f"s3://dpc-assets-{ACCOUNT}-eu-west-1/assets/pipelines/pipeline-x/" in args


def test_the_state_machine_acts_only_on_its_own_pipelines_clusters(
    pipeline_templates: dict[str, Any],
) -> None:
    template = pipeline_templates["pipeline-x"]
    machine = only(template, "AWS::StepFunctions::StateMachine")["Properties"]
    statements = _statements_of_role(template, machine["RoleArn"]["Fn::GetAtt"][0])
    emr = [
        s
        for s in statements
        if any(a.startswith("elasticmapreduce:") for a in as_list(s["Action"]))
    ]
    tag = "elasticmapreduce:{}Tag/dpc:pipeline"
    for statement in emr:
        key = tag.format(
            "Request" if statement["Action"] == "elasticmapreduce:RunJobFlow" else "Resource"
        )
        assert statement["Condition"] == {"StringEquals": {key: "pipeline-x"}}, statement
    assert len(emr) == 2
    create = state_machine_definition(template)["States"]["CreateCluster"]["Parameters"]
    assert {"Key": "dpc:pipeline", "Value": "pipeline-x"} in create["Tags"]
    (passing,) = [s for s in statements if "iam:PassRole" in as_list(s["Action"])]
    assert passing["Condition"] == {
        "StringEquals": {
            "iam:PassedToService": ["elasticmapreduce.amazonaws.com", "ec2.amazonaws.com"]
        }
    }
    assert sorted(as_list(passing["Resource"])) == sorted(
        [
            f"arn:aws:iam::{ACCOUNT}:role/dpc-emr-service-role",
            f"arn:aws:iam::{ACCOUNT}:role/dpc-emr-autoscaling-role",
            f"<{_cluster_role_id(template)}.Arn>",
        ]
    )


def test_the_run_history_log_group_outlives_the_pipeline(
    pipeline_templates: dict[str, Any],
) -> None:
    template = pipeline_templates["pipeline-x"]
    machine = only(template, "AWS::StepFunctions::StateMachine")["Properties"]
    destination = machine["LoggingConfiguration"]["Destinations"][0]
    group_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    group = template["Resources"][group_id]
    assert group["DeletionPolicy"] == "Retain"
    # named per stack instance, so a destroyed pipeline can be deployed again beside it
    name = group["Properties"]["LogGroupName"]["Fn::Join"][1]
    assert name[0] == "/aws/vendedlogs/states/dpc-pipeline-x-"
    assert name[1] == {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}
