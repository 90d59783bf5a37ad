"""The Slack-channel publisher: the Lambda behind the central Slack API's ``/channels``.

At deploy time a pipeline stack's custom resource (through the user account's registration
provider, a SigV4-signed call) registers the pipeline's Slack channels; the Slack poster
reads them for every message (article: "store the mapping pipeline_name/slack_channels").

``PUT /channels/{account}/{name}`` with ``{"channels": [...]}`` creates or replaces the
entry (CloudFormation Create and Update); ``DELETE`` removes it (Delete). Both are
idempotent, so CloudFormation retries are harmless. The caller may register only pipelines
of its own account: the account comes from the signed request, the path only has to agree.

A channel belongs to one account (dpc.lambdas.slack_channels): registering a channel another
account owns is refused with 409 and a one-line reason, which CloudFormation shows as the
custom resource's failure and ``dpc deploy`` prints. The pipeline's item and the claims of its
channels change in one DynamoDB transaction, every claim conditional on nobody else owning
the channel, so two accounts racing for a channel cannot both win; a transaction that loses
to a concurrent change of the same pipeline is read again and retried.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from dpc import constants
from dpc.lambdas.apigw import ApiError, ApiRequest, response
from dpc.lambdas.clients import client
from dpc.lambdas.slack_channels import (
    Claim,
    Owners,
    channel_name,
    owner_key,
    parse_owners,
    read_claims,
    refusal,
)
from dpc.lambdas.slack_poster import pipeline_key

logger = Logger(service="dpc-slack-channel-publisher")

MAX_CHANNELS = 20
MAX_ATTEMPTS = 5
"""Transactions lost to concurrent changes of the same pipeline before giving up (503)."""


@dataclass(frozen=True)
class _Entry:
    """A pipeline's item as read: its channels and the version a write must still find."""

    channels: list[str]
    version: int | None


@dataclass(frozen=True)
class ChannelPublisher:
    table: str
    dynamodb: Any
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    owners: Owners = field(default_factory=dict)
    """The central config's allow-list, which wins over first-come ownership."""

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        try:
            request = ApiRequest.from_event(event)
            ref = request.path_pipeline()
            name, account = ref.name, ref.account
            if account != request.caller_account:
                raise ApiError(
                    403,
                    f"account {request.caller_account} may not register pipelines of "
                    f"account {account}",
                )
            key = pipeline_key(name, account)
            if request.method == "PUT":
                channels = _channels(request.body.get("channels"))
                self.put(key, account, channels)
                logger.info("channels registered", extra={"pipeline": key, "channels": channels})
                return response(200, {"pipeline": key, "channels": channels})
            if request.method == "DELETE":
                self.put(key, account, [])
                logger.info("channels removed", extra={"pipeline": key})
                return response(200, {"pipeline": key, "channels": []})
            raise ApiError(405, f"method {request.method} is not supported")
        except ApiError as error:
            logger.error("request refused", extra={"status": error.status, "reason": str(error)})
            return response(error.status, {"message": str(error)})

    def put(self, key: str, account: str, channels: list[str]) -> None:
        """Make ``channels`` the pipeline's (none: remove its entry), claiming the new ones
        and releasing those it no longer uses, or refuse with 409 if one is not the account's."""
        for _ in range(MAX_ATTEMPTS):
            entry = self._entry(key)
            wanted = {channel_name(c) for c in channels}
            dropped = {channel_name(c) for c in entry.channels} - wanted
            claims = read_claims(self.dynamodb, self.table, wanted | dropped)
            for name in sorted(wanted):
                reason = refusal(name, account, self.owners, claims[name])
                if reason is not None:
                    raise ApiError(409, reason)
            claimed = sorted(n for n in wanted if n not in self.owners)
            released = sorted(n for n in dropped if claims[n].owner == account)
            items = [
                self._write_entry(key, entry, channels),
                *(self._claim(n, key, account) for n in claimed),
                *(self._release(n, key, account) for n in released),
            ]
            try:
                self.dynamodb.transact_write_items(TransactItems=items)
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                self._refuse_if_taken(error, claimed, account)
                continue  # the pipeline or a released claim changed meanwhile: read again
            self._forget_unused(released)
            return
        raise ApiError(503, f"{key} is being changed concurrently; retry the deployment")

    def _entry(self, key: str) -> _Entry:
        item = self.dynamodb.get_item(
            TableName=self.table, Key={"pipeline": {"S": key}}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return _Entry([], None)
        version = int(item["version"]["N"]) if "version" in item else 0
        return _Entry([c["S"] for c in item.get("channels", {}).get("L", [])], version)

    def _write_entry(self, key: str, entry: _Entry, channels: list[str]) -> dict[str, Any]:
        """The pipeline's item, written only if nobody changed it since it was read (an item
        from before versions counts as version 0)."""
        if entry.version is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pipeline)"}
        elif entry.version == 0:
            legacy = "attribute_exists(pipeline) AND attribute_not_exists(version)"
            condition = {"ConditionExpression": legacy}
        else:
            condition = {
                "ConditionExpression": "version = :seen",
                "ExpressionAttributeValues": {":seen": {"N": str(entry.version)}},
            }
        target = {"TableName": self.table, **condition}
        if not channels:  # a pipeline that dropped its Slack targets has nothing to register
            if entry.version is None:  # nothing registered: only check it stays that way
                return {"ConditionCheck": {**target, "Key": {"pipeline": {"S": key}}}}
            return {"Delete": {**target, "Key": {"pipeline": {"S": key}}}}
        item = {
            "pipeline": {"S": key},
            "channels": {"L": [{"S": c} for c in channels]},
            "version": {"N": str((entry.version or 0) + 1)},
            "updated_at": {"S": self.now().isoformat()},
        }
        return {"Put": {**target, "Item": item}}

    def _claim(self, name: str, key: str, account: str) -> dict[str, Any]:
        """Add the pipeline to the channel's users, taking the channel if nobody uses it."""
        return {
            "Update": {
                "TableName": self.table,
                "Key": owner_key(name),
                "UpdateExpression": "SET #owner = :account ADD pipelines :pipeline",
                "ConditionExpression": "attribute_not_exists(pipelines) OR #owner = :account",
                "ExpressionAttributeNames": {"#owner": "owner"},
                "ExpressionAttributeValues": {
                    ":account": {"S": account},
                    ":pipeline": {"SS": [key]},
                },
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _release(self, name: str, key: str, account: str) -> dict[str, Any]:
        """Remove the pipeline from the channel's users; the last one leaves it unowned."""
        return {
            "Update": {
                "TableName": self.table,
                "Key": owner_key(name),
                "UpdateExpression": "DELETE pipelines :pipeline",
                "ConditionExpression": "#owner = :account",
                "ExpressionAttributeNames": {"#owner": "owner"},
                "ExpressionAttributeValues": {
                    ":account": {"S": account},
                    ":pipeline": {"SS": [key]},
                },
            }
        }

    def _refuse_if_taken(self, error: ClientError, claimed: list[str], account: str) -> None:
        """A claim that failed its condition lost the channel to another account: 409."""
        reasons = error.response.get("CancellationReasons") or []
        for name, reason in zip(claimed, reasons[1 : 1 + len(claimed)], strict=False):
            if reason.get("Code") == "ConditionalCheckFailed":
                why = refusal(name, account, self.owners, Claim.of(reason.get("Item")))
                if why is not None:
                    raise ApiError(409, why) from None

    def _forget_unused(self, names: list[str]) -> None:
        """Delete the claims nobody uses any more (an item without users is unowned anyway;
        this only keeps the table tidy, so a concurrent new claim simply wins)."""
        for name in names:
            try:
                self.dynamodb.delete_item(
                    TableName=self.table,
                    Key=owner_key(name),
                    ConditionExpression="attribute_not_exists(pipelines)",
                )
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise


def _channels(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(c, str) and c for c in value):
        raise ApiError(400, "body field 'channels' must be a list of channel names")
    if len(value) > MAX_CHANNELS:
        raise ApiError(400, f"at most {MAX_CHANNELS} Slack channels per pipeline")
    # "#alerts", "alerts" and "Alerts" are one channel to Slack; keep the first spelling's order.
    by_name = {channel_name(c): c.removeprefix("#") for c in reversed(value)}
    return list(dict.fromkeys(by_name[channel_name(c)] for c in value))


@cache
def _publisher() -> ChannelPublisher:
    return ChannelPublisher(
        os.environ[constants.ENV_SLACK_CHANNELS_TABLE],
        client("dynamodb"),
        owners=parse_owners(os.environ.get(constants.ENV_SLACK_CHANNEL_OWNERS)),
    )


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _publisher().handle(event)
