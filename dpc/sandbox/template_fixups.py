"""THE one place listing what changes before a dpc stack is deployed into moto.

Every client sends its templates unchanged, ``dpc deploy`` included: the sandbox's endpoint
applies ``prepare`` to each template of a CreateStack, UpdateStack or CreateChangeSet before
moto sees it (``dpc.sandbox.cloudformation``). Each entry says which moto 5.2 gap it works
around (DESIGN §8) and what the sandbox does instead. Nothing is dropped silently:
``for_moto`` records what it changed in the template's ``Metadata.DpcSandboxFixups`` and
``prepare`` keeps each dropped resource, verbatim, under ``Metadata.DpcSandboxDropped``, so
``GetTemplate`` still shows, for instance, the REST APIs' routes the sandbox serves.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

DROPPED_TYPES: dict[str, str] = {
    # API Gateway: moto's CloudFormation creates the RestApi but its Deployment fails with
    # "The REST API doesn't contain any methods" (methods are created after the deployment
    # is attempted). The sandbox serves the API routes itself from the deployed template
    # (GetTemplate: AWS::ApiGateway::Method + Lambda integration), so the whole API is left out.
    "AWS::ApiGateway::RestApi": "REST API deployment fails in moto; the sandbox emulates routes",
    "AWS::ApiGateway::Deployment": "see AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Stage": "see AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Resource": "see AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Method": "see AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::RequestValidator": "see AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Account": "see AWS::ApiGateway::RestApi",
    # moto takes an S3 flow-log destination with a key prefix (bucket-arn/logs/vpc-flow/)
    # for a bucket name, finds no such bucket and then crashes (IndexError) in CloudFormation.
    # Nothing in the sandbox produces network traffic to log.
    "AWS::EC2::FlowLog": "moto cannot deliver flow logs to an S3 prefix (crashes)",
}

DROPPED_METADATA = "DpcSandboxDropped"


_TLS_ONLY_BUCKET_POLICY = "AWS::S3::BucketPolicy"
"""moto evaluates bucket policies without their Condition blocks: a bucket policy whose
only statements are conditional Denies (CDK's ``enforce_ssl``) would lock the sandbox out
of the artifacts bucket."""


ServedApiUrl = Callable[[str, str], str]
"""(REST API name, stage) → the URL the sandbox serves that API at, in the caller's account."""


def prepare(template: dict[str, Any], served_api_url: ServedApiUrl | None = None) -> dict[str, Any]:
    """``for_moto``, keeping what it drops where the sandbox can read it back; an output
    naming a dropped REST API (``DependencyApiUrl``) becomes the URL the sandbox serves it
    at, so `dpc setup-central-account` prints a command that works from another shell."""
    if served_api_url is not None:
        template = _outputs_to_served_apis(template, served_api_url)
    prepared = for_moto(template)
    fixups = prepared.get("Metadata", {}).get("DpcSandboxFixups", {})
    original = template.get("Resources", {})
    prepared["Metadata"][DROPPED_METADATA] = {
        logical_id: original[logical_id] for logical_id in fixups if logical_id in original
    }
    return prepared


def for_moto(template: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``template`` that moto's CloudFormation deploys; see module docstring."""
    result = copy.deepcopy(template)
    resources: dict[str, Any] = result.get("Resources", {})
    dropped: dict[str, str] = {}
    for logical_id, resource in list(resources.items()):
        kind = resource.get("Type", "")
        reason = DROPPED_TYPES.get(kind)
        if (
            reason is None
            and kind == _TLS_ONLY_BUCKET_POLICY
            and _only_conditional_denies(resource)
        ):
            reason = "moto ignores policy conditions: a TLS-only Deny would deny everything"
        if reason is not None:
            dropped[logical_id] = f"{kind}: {reason}"
            del resources[logical_id]
    # What only served a dropped resource goes too (e.g. the Lambda permission letting API
    # Gateway invoke a handler): moto cannot resolve a reference to a missing resource.
    while True:
        dependants = {
            logical_id: resource.get("Type", "")
            for logical_id, resource in resources.items()
            if _references(resource.get("Properties", {}), set(dropped))
        }
        if not dependants:
            break
        for logical_id, kind in dependants.items():
            dropped[logical_id] = f"{kind}: refers to a dropped resource"
            del resources[logical_id]
    _forget(result, set(dropped))
    substituted = _substitute_secret_refs(result)
    deferred = _defer_custom_resources(result)
    retagged = _kms_key_tags(result)
    result.setdefault("Metadata", {})["DpcSandboxFixups"] = {
        **dropped,
        **substituted,
        **deferred,
        **retagged,
    }
    return result


SANDBOX_CONDITION = "DpcSandboxRunsCustomResources"
"""A condition that is always false: the resources it guards stay in the template verbatim
(GetTemplate shows them, properties and all) but moto's CloudFormation never creates them."""


def _defer_custom_resources(template: dict[str, Any]) -> dict[str, str]:
    """moto creates a custom resource by invoking its ServiceToken Lambda in Docker and then
    waits for the answer on its own response URL; without Docker the stack stays in
    CREATE_IN_PROGRESS forever. Custom resources are therefore kept in the template under
    an always-false condition, and the sandbox sends them their Create/Update/Delete
    requests itself, with properties resolved against the deployed stack."""
    deferred: dict[str, str] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        kind = str(resource.get("Type", ""))
        if kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource":
            resource["Condition"] = SANDBOX_CONDITION
            deferred[logical_id] = f"{kind}: not created by moto; the sandbox runs its handler"
    if deferred:
        template.setdefault("Conditions", {})[SANDBOX_CONDITION] = {
            "Fn::Equals": ["sandbox", "moto-runs-custom-resources"]
        }
    return deferred


def _substitute_secret_refs(template: dict[str, Any]) -> dict[str, str]:
    """moto's CloudFormation accepts AWS::SecretsManager::Secret but creates nothing, so a
    ``Ref`` to it resolves to nothing and IAM rejects the policy granting read on it
    ("Policy statement must contain resources"). Refs become the secret's ARN by name
    (``arn:...:secret:<Name>``), and the sandbox creates the secret under that name through
    the Secrets Manager API, which moto implements."""
    substituted: dict[str, str] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::SecretsManager::Secret":
            continue
        name = resource.get("Properties", {}).get("Name")
        if not name:
            continue
        arn = {
            "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}"
            f":secret:{name}"
        }
        _replace_refs(template, logical_id, arn)
        substituted[logical_id] = f"AWS::SecretsManager::Secret: Ref replaced by ARN of {name}"
    return substituted


def _kms_key_tags(template: dict[str, Any]) -> dict[str, str]:
    """moto's CloudFormation hands an AWS::KMS::Key's ``Tags`` ({Key, Value}) to its KMS
    API, which reads {TagKey, TagValue}, and fails with KeyError 'TagKey'. The tags are
    rewritten into the shape moto reads; the key and its tags are created as on AWS."""
    retagged: dict[str, str] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        tags = resource.get("Properties", {}).get("Tags")
        if resource.get("Type") != "AWS::KMS::Key" or not tags:
            continue
        resource["Properties"]["Tags"] = [
            {"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in tags
        ]
        retagged[logical_id] = "AWS::KMS::Key: Tags in the {TagKey, TagValue} shape moto reads"
    return retagged


def _replace_refs(node: Any, logical_id: str, replacement: Any) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, dict) and value == {"Ref": logical_id}:
                node[key] = copy.deepcopy(replacement)
            else:
                _replace_refs(value, logical_id, replacement)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, dict) and value == {"Ref": logical_id}:
                node[index] = copy.deepcopy(replacement)
            else:
                _replace_refs(value, logical_id, replacement)
    return node


def _only_conditional_denies(resource: dict[str, Any]) -> bool:
    statements = resource.get("Properties", {}).get("PolicyDocument", {}).get("Statement", [])
    return bool(statements) and all(
        s.get("Effect") == "Deny" and s.get("Condition") for s in statements
    )


def _outputs_to_served_apis(
    template: dict[str, Any], served_api_url: ServedApiUrl
) -> dict[str, Any]:
    """A copy whose outputs referring to a REST API are that API's served URL."""
    result = copy.deepcopy(template)
    resources = result.get("Resources", {})
    apis = {
        logical_id: resource
        for logical_id, resource in resources.items()
        if resource.get("Type") == "AWS::ApiGateway::RestApi"
    }
    stages = {
        str(resource["Properties"]["RestApiId"].get("Ref")): str(
            resource["Properties"]["StageName"]
        )
        for resource in resources.values()
        if resource.get("Type") == "AWS::ApiGateway::Stage"
        and isinstance(resource.get("Properties", {}).get("RestApiId"), dict)
    }
    for output in result.get("Outputs", {}).values():
        for logical_id, api in apis.items():
            if _references(output.get("Value"), {logical_id}) and logical_id in stages:
                name = str(api.get("Properties", {}).get("Name", logical_id))
                output["Value"] = served_api_url(name, stages[logical_id])
    return result


def _forget(template: dict[str, Any], dropped: set[str]) -> None:
    """Remove DependsOn entries and outputs that point at dropped resources."""
    for resource in template.get("Resources", {}).values():
        depends = resource.get("DependsOn")
        if isinstance(depends, str):
            depends = [depends]
        if depends:
            kept = [d for d in depends if d not in dropped]
            if kept:
                resource["DependsOn"] = kept
            else:
                resource.pop("DependsOn")
    outputs = template.get("Outputs", {})
    for name, output in list(outputs.items()):
        if _references(output, dropped):
            del outputs[name]


def _references(value: Any, logical_ids: set[str]) -> bool:
    if isinstance(value, dict):
        if value.get("Ref") in logical_ids:
            return True
        get_att = value.get("Fn::GetAtt")
        if isinstance(get_att, list) and get_att and get_att[0] in logical_ids:
            return True
        return any(_references(v, logical_ids) for v in value.values())
    if isinstance(value, list):
        return any(_references(v, logical_ids) for v in value)
    return False
