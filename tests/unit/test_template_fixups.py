"""dpc.sandbox.template_fixups: what changes before a template goes to moto, and nothing else."""

from __future__ import annotations

import copy
import json
from typing import Any

from dpc.sandbox.template_fixups import SANDBOX_CONDITION, for_moto

TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "dpc-dependency-api"}},
        "ApiMethod": {
            "Type": "AWS::ApiGateway::Method",
            "Properties": {"RestApiId": {"Ref": "Api"}, "HttpMethod": "PUT"},
        },
        "ApiPermission": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "FunctionName": {"Fn::GetAtt": ["Publisher", "Arn"]},
                "SourceArn": {"Fn::Join": ["", ["arn:", {"Ref": "Api"}, "/*"]]},
            },
        },
        "Publisher": {"Type": "AWS::Lambda::Function", "Properties": {"Handler": "x.handler"}},
        "Token": {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": "dpc/slack-token"}},
        "PosterPolicy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyDocument": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "secretsmanager:GetSecretValue",
                            "Resource": {"Ref": "Token"},
                        }
                    ]
                }
            },
            "DependsOn": ["Api", "Publisher"],
        },
        "Registration": {
            "Type": "Custom::DpcPipelineRegistration",
            "Properties": {"ServiceToken": {"Fn::ImportValue": "dpc-registration-provider-arn"}},
        },
        "TlsOnly": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "PolicyDocument": {
                    "Statement": [
                        {
                            "Effect": "Deny",
                            "Action": "s3:*",
                            "Principal": {"AWS": "*"},
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ]
                }
            },
        },
        "Queue": {"Type": "AWS::SQS::Queue"},
    },
    "Outputs": {
        "ApiUrl": {"Value": {"Fn::Join": ["", ["https://", {"Ref": "Api"}]]}},
        "QueueUrl": {"Value": {"Ref": "Queue"}},
    },
}


def test_api_gateway_and_what_only_served_it_are_dropped_and_recorded() -> None:
    prepared = for_moto(TEMPLATE)
    resources = prepared["Resources"]
    assert {"Api", "ApiMethod", "ApiPermission", "TlsOnly"}.isdisjoint(resources)
    assert resources["PosterPolicy"]["DependsOn"] == ["Publisher"]
    assert "ApiUrl" not in prepared["Outputs"] and "QueueUrl" in prepared["Outputs"]
    recorded = prepared["Metadata"]["DpcSandboxFixups"]
    assert {"Api", "ApiMethod", "ApiPermission", "TlsOnly", "Token", "Registration"} <= set(
        recorded
    )


def test_custom_resources_stay_visible_but_are_never_created_by_moto() -> None:
    prepared = for_moto(TEMPLATE)
    registration = prepared["Resources"]["Registration"]
    assert registration["Type"] == "Custom::DpcPipelineRegistration"
    assert registration["Properties"] == TEMPLATE["Resources"]["Registration"]["Properties"]
    assert registration["Condition"] == SANDBOX_CONDITION
    equals = prepared["Conditions"][SANDBOX_CONDITION]["Fn::Equals"]
    assert equals[0] != equals[1]


def test_refs_to_a_secret_become_its_arn_by_name() -> None:
    statement = for_moto(TEMPLATE)["Resources"]["PosterPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ][0]
    assert statement["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}"
        ":secret:dpc/slack-token"
    }


def test_everything_else_and_the_input_are_untouched() -> None:
    original = copy.deepcopy(TEMPLATE)
    prepared = for_moto(TEMPLATE)
    assert original == TEMPLATE
    for logical_id in ("Publisher", "Queue", "Token"):
        assert prepared["Resources"][logical_id] == original["Resources"][logical_id]
    assert json.dumps(prepared)  # still plain JSON


def test_a_kms_keys_tags_take_the_shape_moto_reads_and_the_fixup_is_recorded() -> None:
    template = {
        "Resources": {
            "Key": {
                "Type": "AWS::KMS::Key",
                "Properties": {
                    "KeyPolicy": {},
                    "Tags": [{"Key": "dpc:component", "Value": "central"}],
                },
            },
            "Queue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"Tags": [{"Key": "dpc:component", "Value": "central"}]},
            },
        }
    }
    fixed = for_moto(template)
    assert fixed["Resources"]["Key"]["Properties"]["Tags"] == [
        {"TagKey": "dpc:component", "TagValue": "central"}
    ]
    assert fixed["Resources"]["Queue"] == template["Resources"]["Queue"]
    assert "Key" in fixed["Metadata"]["DpcSandboxFixups"]
    assert template["Resources"]["Key"]["Properties"]["Tags"][0] == {
        "Key": "dpc:component",
        "Value": "central",
    }
