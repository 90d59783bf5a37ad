"""The Slack-channel publisher: the Lambda behind the central Slack API's ``/channels``.

At deploy time a pipeline stack's custom resource (through the user account's registration
provider, a SigV4-signed call) registers the pipeline's Slack channels; the Slack poster
reads them for every message (article: "store the mapping pipeline_name/slack_channels").

``PUT /channels/{account}/{name}`` with ``{"channels": [...]}`` creates or replaces the
entry (CloudFormation Create and Update); ``DELETE`` removes it (Delete). Both are
idempotent, so CloudFormation retries are harmless. The caller may register only pipelines
of its own account: the account comes from the signed request, the path only has to agree.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from dpc import constants
from dpc.lambdas.apigw import ApiError, ApiRequest, response
from dpc.lambdas.clients import client
from dpc.lambdas.slack_poster import pipeline_key

logger = Logger(service="dpc-slack-channel-publisher")

MAX_CHANNELS = 20


@dataclass(frozen=True)
class ChannelPublisher:
    table: str
    dynamodb: Any
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

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
                self.put(key, channels)
                logger.info("channels registered", extra={"pipeline": key, "channels": channels})
                return response(200, {"pipeline": key, "channels": channels})
            if request.method == "DELETE":
                self.dynamodb.delete_item(TableName=self.table, Key={"pipeline": {"S": key}})
                logger.info("channels removed", extra={"pipeline": key})
                return response(200, {"pipeline": key, "channels": []})
            raise ApiError(405, f"method {request.method} is not supported")
        except ApiError as error:
            logger.error("request refused", extra={"status": error.status, "reason": str(error)})
            return response(error.status, {"message": str(error)})

    def put(self, key: str, channels: list[str]) -> None:
        if not channels:  # a pipeline that dropped its Slack targets has nothing to register
            self.dynamodb.delete_item(TableName=self.table, Key={"pipeline": {"S": key}})
            return
        self.dynamodb.put_item(
            TableName=self.table,
            Item={
                "pipeline": {"S": key},
                "channels": {"L": [{"S": c} for c in channels]},
                "updated_at": {"S": self.now().isoformat()},
            },
        )


def _channels(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(c, str) and c for c in value):
        raise ApiError(400, "body field 'channels' must be a list of channel names")
    if len(value) > MAX_CHANNELS:
        raise ApiError(400, f"at most {MAX_CHANNELS} Slack channels per pipeline")
    # "#alerts" and "alerts" are the same channel to Slack; keep the first spelling's order.
    return list(dict.fromkeys(c.removeprefix("#") for c in value))


@cache
def _publisher() -> ChannelPublisher:
    return ChannelPublisher(os.environ[constants.ENV_SLACK_CHANNELS_TABLE], client("dynamodb"))


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _publisher().handle(event)
