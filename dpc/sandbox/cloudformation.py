"""CloudFormation at the sandbox's endpoint: what moto's CloudFormation lacks, for any caller.

- Templates: every CreateStack, UpdateStack and CreateChangeSet (TemplateBody or
  TemplateURL) has ``template_fixups.prepare`` applied before moto sees it, so real AWS
  and the sandbox get the very same request from ``dpc deploy``.
- Change sets: moto 5.2's ExecuteChangeSet resolves no ``Fn::ImportValue`` (DESIGN §8),
  so the endpoint keeps change sets itself. CreateChangeSet records one (CREATE or
  UPDATE, as on AWS: a CREATE of an existing stack or an UPDATE of a missing one is
  refused); DescribeChangeSet answers CREATE_COMPLETE, or FAILED "didn't contain changes"
  when template and parameters equal the deployed ones; ExecuteChangeSet carries it out
  as CreateStack / UpdateStack, which moto implements fully; DeleteChangeSet forgets it.
  Nothing sits in REVIEW_IN_PROGRESS, so a failed deploy can simply be run again.
- Custom resources (which moto never runs): after a stack is created or updated, the
  ``deployed`` hooks run (the sandbox sends the custom resources their requests). A hook
  failing is a rollback: a new stack is deleted, an updated one gets its previous template
  back, and the execute call answers the hook's reason. Before a DeleteStack the
  ``deleting`` hooks run (after it, the ``deleted`` ones); one failing leaves the stack
  DELETE_FAILED with that reason in its events, as on AWS (the endpoint adds status and
  events to moto's answers).
"""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlparse

from dpc.errors import DpcError
from dpc.sandbox.endpoint import (
    CLOUDFORMATION_XMLNS,
    Call,
    Endpoint,
    Response,
    query_error,
    query_response,
    xml,
)
from dpc.sandbox.template_fixups import prepare

StackHook = Callable[[str, str], None]
"""(account, stack name) → None; raises DpcError to fail the operation with its message."""

NO_CHANGES = (
    "The submitted information didn't contain changes. Submit different information to "
    "create a change set."
)
_CHANGE_SET_FIELDS = ("ChangeSetName", "ChangeSetType", "Description", "ClientToken")


@dataclass
class _ChangeSet:
    id: str
    name: str
    stack_name: str
    stack_id: str
    type: str
    form: dict[str, str]
    """The CreateStack / UpdateStack request that carries it out (template prepared)."""
    template: dict[str, Any]
    status: str = "CREATE_COMPLETE"
    reason: str = ""


@dataclass
class CloudFormation:
    client_of: Callable[[str, str], Any]
    """(access key, service) → a boto3 client acting with that key on this endpoint."""
    account_of: Callable[[str], str]
    served_api_url: Callable[[str, str, str], str] | None = None
    """(account, REST API name, stage) → where the sandbox serves it (its gateway)."""
    deployed: list[StackHook] = field(default_factory=list)
    deleting: list[StackHook] = field(default_factory=list)
    deleted: list[StackHook] = field(default_factory=list)
    _change_sets: dict[tuple[str, str, str], _ChangeSet] = field(default_factory=dict)
    _delete_failed: dict[tuple[str, str], tuple[str, datetime]] = field(default_factory=dict)

    def install(self, endpoint: Endpoint) -> None:
        for operation, interception in {
            "CreateStack": self._create_or_update_stack,
            "UpdateStack": self._create_or_update_stack,
            "CreateChangeSet": self._create_change_set,
            "DescribeChangeSet": self._describe_change_set,
            "ExecuteChangeSet": self._execute_change_set,
            "DeleteChangeSet": self._delete_change_set,
            "DeleteStack": self._delete_stack,
            "DescribeStacks": self._describe_stacks,
            "DescribeStackEvents": self._describe_stack_events,
        }.items():
            endpoint.intercept("cloudformation", operation, interception)

    # -- templates --------------------------------------------------------------------------

    def _prepared_form(self, call: Call, form: dict[str, str]) -> tuple[dict[str, str], Any]:
        """``form`` with its template prepared for moto, and that template. A TemplateURL
        stays one (templates outgrow a form field): the prepared copy is put next to the
        original, under ``sandbox-prepared/``, where moto's CloudFormation reads it."""
        form = dict(form)
        served = self.served_api_url
        account = self.account_of(call.access_key)
        api_url = None if served is None else (lambda name, stage: served(account, name, stage))
        if "TemplateURL" not in form:
            prepared = prepare(json.loads(form.pop("TemplateBody", "{}")), api_url)
            return {**form, "TemplateBody": json.dumps(prepared)}, prepared
        bucket, key = _s3_location(form.pop("TemplateURL"))
        s3 = self.client_of(call.access_key, "s3")
        prepared = prepare(
            json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()), api_url
        )
        prepared_key = f"sandbox-prepared/{key}"
        s3.put_object(Bucket=bucket, Key=prepared_key, Body=json.dumps(prepared).encode())
        return {
            **form,
            "TemplateURL": f"https://{bucket}.s3.amazonaws.com/{prepared_key}",
        }, prepared

    def _create_or_update_stack(self, call: Call) -> Response:
        form, _ = self._prepared_form(call, call.form)
        return self._carry_out(call, form, call.operation)

    def _carry_out(self, call: Call, form: dict[str, str], operation: str) -> Response:
        """``form`` (a prepared CreateStack or UpdateStack) to moto, then the deployed hooks;
        a hook failing rolls back (see module docstring) and answers its reason."""
        stack_name = form["StackName"]
        previous = None if form["Action"] == "CreateStack" else self._previous_form(call, form)
        answer = call.forward_form(form)
        if answer.status != 200:
            return answer
        account = self.account_of(call.access_key)
        self._delete_failed.pop((account, stack_name), None)
        try:
            for hook in self.deployed:
                hook(account, stack_name)
        except DpcError as failure:
            if previous is None:
                self._delete(call, stack_name)
            else:
                call.forward_form(previous)
            return query_error("ValidationError", f"{stack_name} rolled back: {failure}")
        return answer if operation == form["Action"] else query_response(operation)

    # -- change sets ------------------------------------------------------------------------

    def _key(self, call: Call, stack_name: str, name: str) -> tuple[str, str, str]:
        if name.startswith("arn:"):
            found = next((k for k, c in self._change_sets.items() if c.id == name), None)
            if found is not None:
                return found
        return (self.account_of(call.access_key), stack_name, name)

    def _stack(self, call: Call, stack_name: str) -> dict[str, Any] | None:
        cloudformation = self.client_of(call.access_key, "cloudformation")
        try:
            stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        except cloudformation.exceptions.ClientError:
            return None
        return dict(stacks[0]) if stacks else None

    def _create_change_set(self, call: Call) -> Response:
        original = call.form
        stack_name, kind = original["StackName"], original.get("ChangeSetType", "UPDATE")
        stack = self._stack(call, stack_name)
        if kind == "CREATE" and stack is not None:
            return query_error("AlreadyExistsException", f"Stack [{stack_name}] already exists")
        if kind != "CREATE" and stack is None:
            return query_error("ValidationError", f"Stack [{stack_name}] does not exist")
        form = {k: v for k, v in original.items() if k not in _CHANGE_SET_FIELDS}
        form["Action"] = "CreateStack" if kind == "CREATE" else "UpdateStack"
        form, template = self._prepared_form(call, form)
        account = self.account_of(call.access_key)
        stack_id = (
            stack["StackId"]
            if stack is not None
            else f"arn:aws:cloudformation:{call.region}:{account}:stack/{stack_name}/{uuid.uuid4()}"
        )
        name = original["ChangeSetName"]
        change_set = _ChangeSet(
            id=f"arn:aws:cloudformation:{call.region}:{account}:changeSet/{name}/{uuid.uuid4()}",
            name=name,
            stack_name=stack_name,
            stack_id=stack_id,
            type=kind,
            form=form,
            template=template,
        )
        if stack is not None and self._unchanged(call, change_set, stack):
            change_set.status, change_set.reason = "FAILED", NO_CHANGES
        self._change_sets[(account, stack_name, name)] = change_set
        return query_response(
            "CreateChangeSet", f"<Id>{xml(change_set.id)}</Id><StackId>{xml(stack_id)}</StackId>"
        )

    def _unchanged(self, call: Call, change_set: _ChangeSet, stack: dict[str, Any]) -> bool:
        cloudformation = self.client_of(call.access_key, "cloudformation")
        body = cloudformation.get_template(StackName=change_set.stack_name)["TemplateBody"]
        deployed = json.loads(body) if isinstance(body, str) else json.loads(json.dumps(body))
        parameters = {
            p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])
        }
        wanted = _parameters(change_set.form)
        return deployed == change_set.template and all(
            parameters.get(k) == v for k, v in wanted.items()
        )

    def _change_set(self, call: Call) -> _ChangeSet | Response:
        form = call.form
        key = self._key(call, form.get("StackName", ""), form.get("ChangeSetName", ""))
        found = self._change_sets.get(key)
        if found is None:
            return query_error(
                "ChangeSetNotFound", f"ChangeSet [{form.get('ChangeSetName')}] does not exist"
            )
        return found

    def _describe_change_set(self, call: Call) -> Response:
        change_set = self._change_set(call)
        if isinstance(change_set, Response):
            return change_set
        execution = "AVAILABLE" if change_set.status == "CREATE_COMPLETE" else "UNAVAILABLE"
        return query_response(
            "DescribeChangeSet",
            f"<ChangeSetName>{xml(change_set.name)}</ChangeSetName>"
            f"<ChangeSetId>{xml(change_set.id)}</ChangeSetId>"
            f"<StackId>{xml(change_set.stack_id)}</StackId>"
            f"<StackName>{xml(change_set.stack_name)}</StackName>"
            f"<Status>{change_set.status}</Status>"
            f"<ExecutionStatus>{execution}</ExecutionStatus>"
            f"<StatusReason>{xml(change_set.reason)}</StatusReason><Changes/>",
        )

    def _execute_change_set(self, call: Call) -> Response:
        change_set = self._change_set(call)
        if isinstance(change_set, Response):
            return change_set
        if change_set.status != "CREATE_COMPLETE":
            return query_error(
                "InvalidChangeSetStatus",
                f"ChangeSet [{change_set.id}] cannot be executed in its current status of "
                f"[{change_set.status}]",
            )
        del self._change_sets[self._key(call, change_set.stack_name, change_set.name)]
        return self._carry_out(call, change_set.form, "ExecuteChangeSet")

    def _previous_form(self, call: Call, update: dict[str, str]) -> dict[str, str]:
        """The UpdateStack request that puts the stack back as it is now."""
        cloudformation = self.client_of(call.access_key, "cloudformation")
        body = cloudformation.get_template(StackName=update["StackName"])["TemplateBody"]
        text = body if isinstance(body, str) else json.dumps(body)
        form = {
            k: v
            for k, v in update.items()
            if k not in ("TemplateURL", "TemplateBody") and not k.startswith("Parameters.")
        }
        stack = self._stack(call, update["StackName"]) or {}
        for number, parameter in enumerate(stack.get("Parameters", []), start=1):
            form[f"Parameters.member.{number}.ParameterKey"] = parameter["ParameterKey"]
            form[f"Parameters.member.{number}.ParameterValue"] = parameter["ParameterValue"]
        return {**form, "TemplateBody": text}

    def _delete_change_set(self, call: Call) -> Response:
        change_set = self._change_set(call)
        if isinstance(change_set, Response):
            return change_set
        del self._change_sets[self._key(call, change_set.stack_name, change_set.name)]
        return query_response("DeleteChangeSet")

    # -- deletion ---------------------------------------------------------------------------

    def _delete_stack(self, call: Call) -> Response:
        stack_name = call.form["StackName"]
        stack = self._stack(call, stack_name)
        if stack is None:
            return call.forward()
        account = self.account_of(call.access_key)
        try:
            for hook in self.deleting:
                hook(account, stack["StackName"])
        except DpcError as failure:
            self._delete_failed[(account, stack["StackName"])] = (str(failure), datetime.now(UTC))
            return query_response("DeleteStack")
        self._delete_failed.pop((account, stack["StackName"]), None)
        answer = call.forward()
        for hook in self.deleted:
            hook(account, stack["StackName"])
        return answer

    def _delete(self, call: Call, stack_name: str) -> None:
        """Roll a new stack back: its resources go (custom ones get their Delete)."""
        account = self.account_of(call.access_key)
        for hook in self.deleting:
            try:
                hook(account, stack_name)
            except DpcError:
                continue  # a rollback goes on, as CloudFormation's does
        self.client_of(call.access_key, "cloudformation").delete_stack(StackName=stack_name)
        for hook in self.deleted:
            hook(account, stack_name)

    def _failed_deletion(self, call: Call) -> tuple[str, str, datetime] | None:
        stack_name = call.form.get("StackName", "")
        account = self.account_of(call.access_key)
        for (owner, name), (reason, when) in self._delete_failed.items():
            if owner == account and stack_name in (name, ""):
                return name, reason, when
        return None

    def _describe_stacks(self, call: Call) -> Response:
        answer = call.forward()
        failed = self._failed_deletion(call)
        if failed is None or answer.status != 200:
            return answer
        tree = ElementTree.fromstring(answer.body)
        for member in tree.iter(f"{{{CLOUDFORMATION_XMLNS}}}member"):
            name = member.find(f"{{{CLOUDFORMATION_XMLNS}}}StackName")
            status = member.find(f"{{{CLOUDFORMATION_XMLNS}}}StackStatus")
            if name is not None and name.text == failed[0] and status is not None:
                status.text = "DELETE_FAILED"
        return Response(200, _serialize(tree), answer.headers)

    def _describe_stack_events(self, call: Call) -> Response:
        answer = call.forward()
        failed = self._failed_deletion(call)
        if failed is None or answer.status != 200:
            return answer
        name, reason, when = failed
        tree = ElementTree.fromstring(answer.body)
        events = next(tree.iter(f"{{{CLOUDFORMATION_XMLNS}}}StackEvents"), None)
        stack = self._stack(call, name) or {}
        if events is not None:
            # newest first, as CloudFormation lists them
            for status, why in (
                ("DELETE_IN_PROGRESS", "User Initiated"),
                ("DELETE_FAILED", reason),
            ):
                events.insert(0, _event(stack.get("StackId", name), name, status, why, when))
        return Response(200, _serialize(tree), answer.headers)


def _event(stack_id: str, name: str, status: str, reason: str, when: datetime) -> Any:
    member = ElementTree.Element(f"{{{CLOUDFORMATION_XMLNS}}}member")
    for tag, text in (
        ("StackId", stack_id),
        ("EventId", str(uuid.uuid4())),
        ("StackName", name),
        ("LogicalResourceId", name),
        ("PhysicalResourceId", stack_id),
        ("ResourceType", "AWS::CloudFormation::Stack"),
        ("Timestamp", when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
        ("ResourceStatus", status),
        ("ResourceStatusReason", reason),
    ):
        ElementTree.SubElement(member, f"{{{CLOUDFORMATION_XMLNS}}}{tag}").text = text
    return member


def _serialize(tree: Any) -> bytes:
    ElementTree.register_namespace("", CLOUDFORMATION_XMLNS)
    return bytes(ElementTree.tostring(tree, encoding="utf-8"))


def _parameters(form: dict[str, str]) -> dict[str, str]:
    found: dict[str, dict[str, str]] = {}
    for key, value in form.items():
        if key.startswith("Parameters.member."):
            number, field_name = key.removeprefix("Parameters.member.").split(".", 1)
            found.setdefault(number, {})[field_name] = value
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in found.values()}


def _s3_location(url: str) -> tuple[str, str]:
    """(bucket, key) of a template URL, virtual-hosted (``bucket.s3.…``) or path style."""
    parsed = urlparse(url)
    host, path = parsed.netloc, unquote(parsed.path.lstrip("/"))
    if ".s3." in host or host.endswith(".s3.amazonaws.com"):
        return host.split(".s3.", 1)[0], path
    bucket, key = path.split("/", 1)
    return bucket, key
