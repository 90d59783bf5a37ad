"""A custom-resource handler for the sandbox tests: records each request, answers SUCCESS
(or FAILED when the resource asks for it: ``Fail: yes``, or ``FailOn: <RequestType>``) to
CloudFormation's ResponseURL."""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any


def handler(event: dict[str, Any], context: Any) -> None:
    with open(os.environ["RECORD_FILE"], "a", encoding="utf-8") as out:
        out.write(json.dumps(event) + "\n")
    properties = event["ResourceProperties"]
    fail = properties.get("Fail") == "yes" or properties.get("FailOn") == event["RequestType"]
    body = json.dumps(
        {
            "Status": "FAILED" if fail else "SUCCESS",
            "Reason": "asked to fail" if fail else "ok",
            "PhysicalResourceId": f"thing-{event['ResourceProperties']['Name']}",
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
        }
    ).encode()
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT")
    with urllib.request.urlopen(request, timeout=10) as reply:
        reply.read()
