"""A pipeline's EMR cluster and the roles around it (issue 12 items 1, 4): the cluster role
reads only the pipeline's own scripts and writes only its own prefixes, in this account's
buckets; the state machine acts only on clusters tagged with its pipeline and passes roles
to EMR and EC2 only."""

from __future__ import annotations

import json
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
        if statement.get("Sid", "").endswith(("OwnStepScripts", "OutputsAndLogs", "OwnPrefixes"))
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


# -- EMR hardening (issue 12 item 5) -----------------------------------------------------


def test_every_cluster_runs_with_encryption_at_rest_and_in_transit(
    user_template: dict[str, Any], pipeline_templates: dict[str, Any]
) -> None:
    configuration = only(user_template, "AWS::EMR::SecurityConfiguration")["Properties"]
    assert configuration["Name"] == "dpc-emr-encryption"
    encryption = configuration["SecurityConfiguration"]["EncryptionConfiguration"]
    assert encryption["EnableAtRestEncryption"] is True
    at_rest = encryption["AtRestEncryptionConfiguration"]
    assert at_rest["S3EncryptionConfiguration"] == {"EncryptionMode": "SSE-S3"}
    disks = at_rest["LocalDiskEncryptionConfiguration"]
    assert disks["EncryptionKeyProviderType"] == "AwsKms" and disks["EnableEbsEncryption"]
    key_id = disks["AwsKmsKey"]["Fn::GetAtt"][0]
    assert user_template["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True
    assert encryption["EnableInTransitEncryption"] is True
    tls = encryption["InTransitEncryptionConfiguration"]["TLSCertificateConfiguration"]
    assert tls["CertificateProviderType"] == "PEM"
    assert (
        render(tls["S3Object"]) == f"s3://dpc-assets-{ACCOUNT}-eu-west-1/emr/tls-certificates.zip"
    )
    for name, template in pipeline_templates.items():
        create = state_machine_definition(template)["States"]["CreateCluster"]["Parameters"]
        assert create["SecurityConfiguration"] == "dpc-emr-encryption", name


def test_clusters_run_in_a_private_subnet_with_no_route_out_but_the_s3_endpoint(
    user_template: dict[str, Any], pipeline_templates: dict[str, Any]
) -> None:
    outputs = {
        o["Export"]["Name"]: o["Value"] for o in user_template["Outputs"].values() if "Export" in o
    }
    private_subnet = outputs["dpc-emr-private-subnet-id"]["Ref"]
    subnet = user_template["Resources"][private_subnet]["Properties"]
    assert subnet["MapPublicIpOnLaunch"] is False
    (association,) = [
        r["Properties"]
        for r in resources(user_template, "AWS::EC2::SubnetRouteTableAssociation").values()
        if r["Properties"]["SubnetId"] == {"Ref": private_subnet}
    ]
    table = association["RouteTableId"]
    routes = [
        r["Properties"]
        for r in resources(user_template, "AWS::EC2::Route").values()
        if r["Properties"]["RouteTableId"] == table
    ]
    assert routes == []  # no internet gateway, no NAT
    (endpoint,) = resources(user_template, "AWS::EC2::VPCEndpoint").values()
    assert endpoint["Properties"]["VpcEndpointType"] == "Gateway"
    assert "s3" in json.dumps(endpoint["Properties"]["ServiceName"])
    assert table in endpoint["Properties"]["RouteTableIds"]
    # and every case-study cluster is placed there, with EMR's service-access group
    for name, template in pipeline_templates.items():
        instances = state_machine_definition(template)["States"]["CreateCluster"]["Parameters"][
            "Instances"
        ]
        assert instances["Ec2SubnetId"] == "<import:dpc-emr-private-subnet-id>", name
        assert (
            instances["ServiceAccessSecurityGroup"]
            == "<import:dpc-emr-service-access-security-group-id>"
        ), name


def _synth_one(tmp_path: Any, cluster: str) -> dict[str, Any]:
    from dpc.infra.app import synth_pipelines
    from dpc.spec.loader import load_pipeline

    (tmp_path / "job.sh").write_text("echo hi\n")
    (tmp_path / "pipeline.yaml").write_text(
        "name: web-scraper\n"
        f"account: '{ACCOUNT}'\n"
        "trigger: {schedule: {hour: 3}}\n"
        f"cluster: {cluster}\n"
        "steps: [{name: scrape, type: shell, script: job.sh}]\n"
    )
    pipeline = load_pipeline(tmp_path / "pipeline.yaml")
    synthesis = synth_pipelines([pipeline], tmp_path / "out")
    loaded: dict[str, Any] = json.loads(synthesis.stacks[0].template_file.read_text())
    return loaded


def test_a_public_cluster_only_when_the_pipeline_asks_for_it(tmp_path: Any) -> None:
    template = _synth_one(tmp_path, "{network: public}")
    instances = state_machine_definition(template)["States"]["CreateCluster"]["Parameters"][
        "Instances"
    ]
    assert instances["Ec2SubnetId"] == "<import:dpc-emr-subnet-id>"
    assert "ServiceAccessSecurityGroup" not in instances


def _as_cfn_cluster(scope: Any, construct_id: str, parameters: dict[str, Any]) -> Any:
    """The CreateCluster request of a state machine, as the AWS::EMR::Cluster it creates."""
    from aws_cdk import aws_emr as emr

    instances = parameters["Instances"]
    groups = {g["InstanceRole"]: g for g in instances["InstanceGroups"]}

    def group(role: str) -> Any:
        return emr.CfnCluster.InstanceGroupConfigProperty(
            instance_count=groups[role]["InstanceCount"],
            instance_type=groups[role]["InstanceType"],
        )

    return emr.CfnCluster(
        scope,
        construct_id,
        name=parameters["Name"],
        release_label=parameters["ReleaseLabel"],
        job_flow_role=parameters["JobFlowRole"],
        service_role=parameters["ServiceRole"],
        log_uri=parameters["LogUri"],
        security_configuration=parameters["SecurityConfiguration"],
        visible_to_all_users=parameters["VisibleToAllUsers"],
        instances=emr.CfnCluster.JobFlowInstancesConfigProperty(
            ec2_subnet_id=instances["Ec2SubnetId"],
            master_instance_group=group("MASTER"),
            core_instance_group=group("CORE"),
        ),
    )


def test_cdk_nags_emr_rules_pass_on_the_clusters_the_state_machines_create(
    tmp_path: Any, user_template: dict[str, Any], pipeline_templates: dict[str, Any]
) -> None:
    from aws_cdk import Stack
    from aws_cdk import aws_emr as emr

    from dpc.infra.app import new_app, synthesize
    from dpc.infra.nag import suppress

    # Given every case-study cluster request beside the account's security configuration
    app = new_app(tmp_path)
    stack = Stack(app, "ClustersAsCreated")
    configuration = only(user_template, "AWS::EMR::SecurityConfiguration")["Properties"]
    # cdk-nag 3.0.2's EMR4/EMR5 read the encryption settings at the top of the security
    # configuration, where EMR's format (AWS: "Security configuration reference") nests them
    # under EncryptionConfiguration (as dpc writes it, checked above): nag gets what it reads.
    emr.CfnSecurityConfiguration(
        stack,
        "Encryption",
        name=configuration["Name"],
        security_configuration=render(configuration["SecurityConfiguration"])[
            "EncryptionConfiguration"
        ],
    )
    for name, template in pipeline_templates.items():
        cluster = _as_cfn_cluster(
            stack,
            f"Cluster-{name}",
            state_machine_definition(template)["States"]["CreateCluster"]["Parameters"],
        )
        suppress(
            cluster,
            "AwsSolutions-EMR6",
            "dpc clusters take no EC2 key pair, so nobody can log in to a node; steps are "
            "submitted through the EMR API by the state machine's role.",
        )
    # When cdk-nag checks them, Then S3 logging (EMR2), local disk (EMR4) and in-transit
    # (EMR5) encryption hold; synthesize raises NagFindings otherwise
    synthesize(app)
