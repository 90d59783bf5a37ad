"""The user account's custom-resource provider: registers a pipeline with the central APIs.

Each pipeline stack holds custom resources served by this Lambda (one per user account,
created by ``dpc setup-user-account``; pipeline stacks find it through the export
``dpc-registration-provider-arn``). Resource types and the calls they make:

``Custom::DpcPipelineRegistration`` — properties ``Pipeline``, ``Account``,
``StateMachineArn``, ``Condition`` (JSON string, see dpc.triggers.codec, or ``""``),
``Schedule`` (``""`` if none), ``Period`` (JSON string ``{unit, offsetSeconds}``, see
``PeriodSpec.to_json``; ``""`` or absent from a stack synthesized before periods),
``Dependents`` (JSON string ``{"accounts": [...]}`` of pipeline.yaml's ``dependents``; ``""``
or absent: every account of the organization may depend on the pipeline).
Create/Update: ``PUT {dependency API}/pipelines/{account}/{name}`` with
``{stateMachineArn, condition, schedule, period, dependents}``; Delete: ``DELETE`` of that
path.

``Custom::DpcSlackChannels`` — properties ``Pipeline``, ``Account``, ``Channels`` (list).
Create/Update: ``PUT {Slack API}/channels/{account}/{name}`` with ``{channels}``;
Delete: ``DELETE``.

Calls are SigV4-signed with the Lambda's role (dpc.lambdas.sigv4): the central APIs take
the caller's account from the signature. The physical id is ``<account>/<name>``, so
renaming a pipeline makes CloudFormation delete the old registration after creating the
new one. A Delete whose registration is already gone (404) succeeds: stack deletion must
not wedge on a registry that was cleaned up by hand. The outcome is reported to
CloudFormation's pre-signed ``ResponseURL`` (a plain HTTPS PUT), with the API's message as
the reason, which ``dpc deploy`` shows when a stack rolls back.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools import Logger

from dpc.lambdas import sigv4

logger = Logger(service="dpc-registration-provider")

ENV_DEPENDENCY_API_URL = "DPC_DEPENDENCY_API_URL"
ENV_SLACK_API_URL = "DPC_SLACK_API_URL"

PIPELINE_REGISTRATION = "Custom::DpcPipelineRegistration"
SLACK_CHANNELS = "Custom::DpcSlackChannels"

NOT_CONFIGURED = "none"
"""The user stack's value for an API URL not given at setup (exports cannot be empty)."""

SignedCall = Callable[[str, str, Mapping[str, Any] | None], Any]


class RegistrationError(Exception):
    """A registration the provider could not make; the message becomes the CFN reason."""


def _url(base: str, *parts: str) -> str:
    if not base or base == NOT_CONFIGURED:
        raise RegistrationError(
            "the central API URL is not configured; run `dpc setup-user-account` with "
            "--api-url/--slack-api-url (outputs of `dpc setup-central-account`)"
        )
    return "/".join([base.rstrip("/"), *(quote(p, safe="") for p in parts)])


def _request(
    request_type: str,
    resource_type: str,
    properties: Mapping[str, Any],
    environ: Mapping[str, str],
) -> tuple[str, str, dict[str, Any] | None]:
    """(method, url, body) of the central call a CloudFormation request needs."""
    name, account = str(properties["Pipeline"]), str(properties["Account"])
    delete = request_type == "Delete"
    if resource_type == PIPELINE_REGISTRATION:
        url = _url(environ.get(ENV_DEPENDENCY_API_URL, ""), "pipelines", account, name)
        condition = str(properties.get("Condition") or "")
        period = str(properties.get("Period") or "")
        dependents = str(properties.get("Dependents") or "")
        body = {
            "stateMachineArn": properties["StateMachineArn"],
            "condition": json.loads(condition) if condition else None,
            "schedule": properties.get("Schedule") or None,
            "period": json.loads(period) if period else None,
            "dependents": json.loads(dependents) if dependents else None,
            "expect": properties.get("Expect") or None,
        }
    elif resource_type == SLACK_CHANNELS:
        url = _url(environ.get(ENV_SLACK_API_URL, ""), "channels", account, name)
        body = {"channels": list(properties.get("Channels") or [])}
    else:
        raise RegistrationError(f"unknown resource type {resource_type}")
    return ("DELETE", url, None) if delete else ("PUT", url, body)


def handle(
    event: Mapping[str, Any],
    *,
    call: SignedCall,
    environ: Mapping[str, str],
) -> tuple[str, str, str]:
    """(status, physical id, reason) for one CloudFormation custom-resource request."""
    properties = event.get("ResourceProperties") or {}
    physical_id = str(event.get("PhysicalResourceId") or "")
    request_type = str(event["RequestType"])
    try:
        name, account = str(properties["Pipeline"]), str(properties["Account"])
        physical_id = physical_id if request_type == "Delete" else f"{account}/{name}"
        method, url, body = _request(
            request_type, str(event.get("ResourceType", "")), properties, environ
        )
        try:
            call(method, url, body)
        except sigv4.SignedCallError as error:
            if not (method == "DELETE" and " answered 404" in str(error)):
                raise RegistrationError(str(error)) from None
        return "SUCCESS", physical_id, f"{method} {url}"
    except (RegistrationError, KeyError, ValueError) as error:
        reason = f"{type(error).__name__}: {error}" if isinstance(error, KeyError) else str(error)
        if request_type == "Delete" and isinstance(error, KeyError):
            # Nothing was ever registered under a resource without properties.
            return "SUCCESS", physical_id or "none", reason
        return "FAILED", physical_id or "none", reason


def send_response(event: Mapping[str, Any], status: str, physical_id: str, reason: str) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:3500],
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "NoEcho": False,
            "Data": {},
        }
    ).encode()
    request = urllib.request.Request(
        event["ResponseURL"],
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        reply.read()


def _signed_call(method: str, url: str, body: Mapping[str, Any] | None) -> Any:
    return sigv4.call(method, url, body).body


@logger.inject_lambda_context
def handler(event: Mapping[str, Any], context: Any) -> None:
    status, physical_id, reason = handle(event, call=_signed_call, environ=os.environ)
    logger.info(
        "custom resource handled",
        extra={"request": event.get("RequestType"), "status": status, "reason": reason},
    )
    send_response(event, status, physical_id, reason)
