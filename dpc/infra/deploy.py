"""Deploying a synthesized cloud assembly with boto3 alone: no CDK CLI, no bootstrap stack.

The service reads the assembly on disk (``manifest.json``, ``<stack>.assets.json``) and:

1. ensures the account's dpc assets bucket ``dpc-assets-<account>-<region>`` exists
   (SSE-S3, public access blocked, TLS-only policy, versioned) — the one thing the CDK
   bootstrap stack would otherwise provide, and the answer to the chicken-and-egg of a stack
   whose Lambda code must be in S3 before the stack exists;
2. publishes the file assets (Lambda code zipped, step scripts as they are), skipping those
   already there: keys are content hashes;
3. uploads the template and creates a change set, CREATE or UPDATE as the stack's state
   requires (the sandbox's endpoint meets the same requests as AWS: nothing here knows it);
4. executes it and polls the stack events, handing each new one to a progress callback,
   until the stack settles; a rollback raises ``DeployError`` with the first failing
   resource and CloudFormation's reason.

This module never imports aws_cdk: deploying is plain AWS API work, testable against moto
through ``endpoint_url`` / ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from dpc.errors import DpcError
from dpc.lambdas.arns import dns_suffix, partition

if TYPE_CHECKING:
    from boto3.session import Session
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sts import STSClient

ASSETS_BUCKET_TEMPLATE = "dpc-assets-${AWS::AccountId}-${AWS::Region}"
CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
TERMINAL_SUFFIXES = ("_COMPLETE", "_FAILED")
CLOCK_SKEW = timedelta(seconds=5)
SUCCESS_STATUSES = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"})


class DeployError(DpcError):
    """CloudFormation refused or rolled back; the message names the resource and reason."""


@dataclass(frozen=True)
class StackEvent:
    timestamp: datetime
    logical_id: str
    resource_type: str
    status: str
    reason: str

    @property
    def failed(self) -> bool:
        return self.status.endswith("_FAILED")


@dataclass(frozen=True)
class StackResult:
    stack_name: str
    status: str
    outputs: Mapping[str, str] = field(default_factory=dict)
    changed: bool = True


@dataclass(frozen=True)
class FileAsset:
    source: Path
    packaging: str
    """``file`` (uploaded as is) or ``zip`` (a directory, zipped)."""
    bucket: str
    key: str


@dataclass(frozen=True)
class AssemblyStack:
    """One stack of a cloud assembly, as the deploy service needs it."""

    name: str
    template_file: Path
    assets: tuple[FileAsset, ...]

    def template(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.template_file.read_text())
        return loaded


def read_assembly(directory: Path) -> list[AssemblyStack]:
    """The stacks of a synthesized cloud assembly, with their file assets (minus the
    template itself, which the service uploads under a key of its own)."""
    manifest = json.loads((directory / "manifest.json").read_text())
    artifacts: dict[str, Any] = manifest.get("artifacts", {})
    stacks = []
    for artifact_id, artifact in artifacts.items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        properties = artifact["properties"]
        template_file = directory / properties["templateFile"]
        assets: list[FileAsset] = []
        for dependency in artifact.get("dependencies", []):
            dep = artifacts.get(dependency, {})
            if dep.get("type") != "cdk:asset-manifest":
                continue
            asset_manifest = json.loads((directory / dep["properties"]["file"]).read_text())
            for entry in asset_manifest.get("files", {}).values():
                source = directory / entry["source"]["path"]
                if source.resolve() == template_file.resolve():
                    continue
                for destination in entry["destinations"].values():
                    assets.append(
                        FileAsset(
                            source=source,
                            packaging=entry["source"].get("packaging", "file"),
                            bucket=destination["bucketName"],
                            key=destination["objectKey"],
                        )
                    )
        stacks.append(
            AssemblyStack(
                name=properties.get("stackName", artifact_id),
                template_file=template_file,
                assets=tuple(assets),
            )
        )
    return stacks


def substitute(text: str, account: str, region: str) -> str:
    return text.replace("${AWS::AccountId}", account).replace("${AWS::Region}", region)


def zip_directory(source: Path) -> bytes:
    """A deterministic zip (sorted entries, fixed timestamps): same code, same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(path.relative_to(source)), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


class _ExpectedOwner(TypedDict):
    ExpectedBucketOwner: str


class DeployService:
    """Deploys and destroys dpc stacks with boto3 (clients injected or built from a session)."""

    def __init__(
        self,
        *,
        session: Session | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        on_event: Callable[[StackEvent], None] | None = None,
        poll_seconds: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if session is None:
            import boto3

            session = boto3.Session(region_name=region)
        self.region: str = region or session.region_name or "us-east-1"
        endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None

        def client(service: str) -> Any:
            return session.client(
                service,  # type: ignore[call-overload]  # one name for three services
                region_name=self.region,
                endpoint_url=endpoint,
            )

        self.cloudformation: CloudFormationClient = client("cloudformation")
        self.s3: S3Client = client("s3")
        self.sts: STSClient = client("sts")
        self.on_event = on_event or (lambda event: None)
        self.poll_seconds = poll_seconds
        self.sleep = sleep
        self._account: str | None = None

    # -- identity and assets -------------------------------------------------------------

    @property
    def account(self) -> str:
        if self._account is None:
            self._account = str(self.sts.get_caller_identity()["Account"])
        return self._account

    @property
    def assets_bucket(self) -> str:
        return substitute(ASSETS_BUCKET_TEMPLATE, self.account, self.region)

    def ensure_assets_bucket(self) -> str:
        """Create the dpc assets bucket once per account and region (idempotent).

        The name is predictable, so another account could create it first and have its
        template or code run here: a bucket of that name that this account does not own is
        refused, and every later call states the expected owner, so S3 itself refuses a
        bucket that changed hands in between."""
        from botocore.exceptions import ClientError

        bucket = self.assets_bucket
        owned = self.s3.list_buckets(Prefix=bucket).get("Buckets", [])
        if any(b.get("Name") == bucket for b in owned):
            return bucket
        create: dict[str, Any] = {"Bucket": bucket}
        if self.region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self.s3.create_bucket(**create)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code != "BucketAlreadyExists":
                raise DeployError(f"cannot create the assets bucket {bucket}: {error}") from None
            raise DeployError(
                f"the assets bucket {bucket} belongs to another AWS account; dpc will not "
                "upload templates or code into it (delete it there, or ask AWS support)"
            ) from None
        owner: _ExpectedOwner = {"ExpectedBucketOwner": self.account}
        self.s3.put_public_access_block(
            Bucket=bucket,
            **owner,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        self.s3.put_bucket_encryption(
            Bucket=bucket,
            **owner,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        self.s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}, **owner
        )
        bucket_arn = f"arn:{partition(self.region)}:s3:::{bucket}"
        self.s3.put_bucket_policy(
            Bucket=bucket,
            **owner,
            Policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "TlsOnly",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [f"{bucket_arn}", f"{bucket_arn}/*"],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                }
            ),
        )
        return bucket

    def publish_assets(self, stack: AssemblyStack) -> int:
        """Upload the stack's file assets that are not in S3 yet; returns how many were."""
        from botocore.exceptions import ClientError

        uploaded = 0
        for asset in stack.assets:
            bucket = substitute(asset.bucket, self.account, self.region)
            key = substitute(asset.key, self.account, self.region)
            try:
                self.s3.head_object(Bucket=bucket, Key=key, ExpectedBucketOwner=self.account)
                continue
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey"):
                    raise DeployError(f"cannot read s3://{bucket}/{key}: {error}") from None
            body = (
                zip_directory(asset.source)
                if asset.packaging == "zip" or asset.source.is_dir()
                else asset.source.read_bytes()
            )
            self.s3.put_object(Bucket=bucket, Key=key, Body=body, ExpectedBucketOwner=self.account)
            uploaded += 1
        return uploaded

    def _template_url(self, stack: AssemblyStack, template: dict[str, Any]) -> str:
        body = json.dumps(template, separators=(",", ":")).encode()
        key = f"templates/{stack.name}/{hashlib.sha256(body).hexdigest()}.json"
        self.s3.put_object(
            Bucket=self.assets_bucket, Key=key, Body=body, ExpectedBucketOwner=self.account
        )
        return f"https://{self.assets_bucket}.s3.{self.region}.{dns_suffix(self.region)}/{key}"

    # -- stacks ---------------------------------------------------------------------------

    def stack_status(self, stack_name: str) -> str | None:
        from botocore.exceptions import ClientError

        try:
            stacks = self.cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as error:
            if "does not exist" in str(error):
                return None
            raise
        return str(stacks[0]["StackStatus"]) if stacks else None

    def deploy(
        self, stack: AssemblyStack, *, parameters: Mapping[str, str] | None = None
    ) -> StackResult:
        """Publish, change-set, execute, follow. Raises DeployError on failure/rollback."""
        from botocore.exceptions import ClientError

        self.ensure_assets_bucket()
        self.publish_assets(stack)
        template = stack.template()
        status = self.stack_status(stack.name)
        if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED"):
            # A stack that never got created cannot be updated: CloudFormation needs it gone.
            self._delete_and_wait(stack.name)
            status = None
        creating = status in (None, "REVIEW_IN_PROGRESS")
        request: dict[str, Any] = {
            "StackName": stack.name,
            "TemplateURL": self._template_url(stack, template),
            "Parameters": [
                {"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()
            ],
            "Capabilities": list(CAPABILITIES),
        }
        started = self._now()
        try:
            changed = self._execute_change_set(request, creating)
        except ClientError as error:
            message = error.response.get("Error", {}).get("Message", str(error))
            raise DeployError(
                f"CloudFormation refused stack {stack.name}: {message}{_hint(message)}"
            ) from None
        if not changed:
            return StackResult(
                stack.name, status or "UNKNOWN", self.outputs(stack.name), changed=False
            )
        final = self._follow(stack.name, started)
        if final not in SUCCESS_STATUSES:
            raise DeployError(self._failure_message(stack.name, final, started))
        return StackResult(stack.name, final, self.outputs(stack.name))

    def _execute_change_set(self, request: dict[str, Any], creating: bool) -> bool:
        """Create, await and execute a change set; False when it would change nothing."""
        name = f"dpc-{int(time.time() * 1000)}"
        self.cloudformation.create_change_set(
            **request,
            ChangeSetName=name,
            ChangeSetType="CREATE" if creating else "UPDATE",
            Description="dpc deploy",
        )
        if not self._wait_for_change_set(request["StackName"], name):
            return False
        self.cloudformation.execute_change_set(StackName=request["StackName"], ChangeSetName=name)
        return True

    def destroy(self, stack_name: str) -> StackResult:
        """Delete the stack (data tables and buckets are retained by their policies)."""
        if self.stack_status(stack_name) is None:
            raise DeployError(f"stack {stack_name} does not exist (nothing to destroy)")
        self._delete_and_wait(stack_name)
        return StackResult(stack_name, "DELETE_COMPLETE")

    def outputs(self, stack_name: str) -> dict[str, str]:
        stacks = self.cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}

    def _delete_and_wait(self, stack_name: str) -> None:
        started = self._now()
        self.cloudformation.delete_stack(StackName=stack_name)
        final = self._follow(stack_name, started)
        if final not in ("DELETE_COMPLETE", "GONE"):
            raise DeployError(self._failure_message(stack_name, final, started))

    def _wait_for_change_set(self, stack_name: str, name: str) -> bool:
        """True when the change set is ready to execute, False when it changes nothing."""
        while True:
            described = self.cloudformation.describe_change_set(
                StackName=stack_name, ChangeSetName=name
            )
            status = described.get("Status", "")
            if status == "CREATE_COMPLETE":
                return True
            if status == "FAILED":
                reason = str(described.get("StatusReason", ""))
                if any(marker in reason for marker in NO_CHANGES):
                    self.cloudformation.delete_change_set(StackName=stack_name, ChangeSetName=name)
                    return False
                raise DeployError(
                    f"CloudFormation rejected the change set for {stack_name}: {reason}"
                )
            self.sleep(self.poll_seconds)

    def _follow(self, stack_name: str, since: datetime) -> str:
        """Report new stack events until the stack leaves every *_IN_PROGRESS state."""
        seen: set[str] = set()
        while True:
            status = self._status_or_gone(stack_name)
            for event in self._new_events(stack_name, since, seen):
                self.on_event(event)
            if status == "GONE" or (
                status.endswith(TERMINAL_SUFFIXES) and "_IN_PROGRESS" not in status
            ):
                return status
            self.sleep(self.poll_seconds)

    def _status_or_gone(self, stack_name: str) -> str:
        from botocore.exceptions import ClientError

        try:
            stacks = self.cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as error:
            if "does not exist" in str(error):
                return "GONE"
            raise
        return str(stacks[0]["StackStatus"])

    def _new_events(self, stack_name: str, since: datetime, seen: set[str]) -> list[StackEvent]:
        from botocore.exceptions import ClientError

        try:
            raw = self.cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
        except ClientError:
            return []
        fresh = []
        for item in reversed(raw):  # the API answers newest first
            if item["EventId"] in seen or item["Timestamp"] < since:
                continue
            seen.add(item["EventId"])
            fresh.append(
                StackEvent(
                    timestamp=item["Timestamp"],
                    logical_id=item.get("LogicalResourceId", ""),
                    resource_type=item.get("ResourceType", ""),
                    status=item.get("ResourceStatus", ""),
                    reason=item.get("ResourceStatusReason", "") or "",
                )
            )
        return fresh

    def _failure_message(self, stack_name: str, status: str, since: datetime) -> str:
        failures = [e for e in self._new_events(stack_name, since, set()) if e.failed and e.reason]
        # The first failure is the cause; later ones are usually "Resource creation cancelled".
        cause = next((e for e in failures if e.logical_id != stack_name), None)
        if cause is None and failures:
            cause = failures[0]
        detail = f": {cause.logical_id} ({cause.resource_type}): {cause.reason}" if cause else ""
        return f"stack {stack_name} ended in {status}{detail}"

    def _now(self) -> datetime:
        # A little slack for clock skew between this machine and CloudFormation's events.
        return datetime.now(UTC).replace(microsecond=0) - CLOCK_SKEW


def _hint(message: str) -> str:
    if "export" in message.lower() and "dpc-" in message:
        return " (run `dpc setup-user-account` in this account first)"
    return ""


def deploy_assembly(
    service: DeployService,
    directory: Path,
    *,
    stack_names: Sequence[str] | None = None,
    parameters: Mapping[str, str] | None = None,
) -> list[StackResult]:
    """Deploy every stack of an assembly (or the named ones), in manifest order."""
    stacks = read_assembly(directory)
    if stack_names is not None:
        stacks = [s for s in stacks if s.name in stack_names]
    return [service.deploy(stack, parameters=parameters) for stack in stacks]
