"""The Slack poster: the Lambda behind the central Slack API's ``POST /messages``.

For one message of one run (article, alerting steps 6-11): read the bot token from Secrets
Manager (cached for the container's life, never logged), read the pipeline's channels from
the Slack-channels table, and post to each channel with ``chat.postMessage`` — the first
message of an execution starts a thread whose ``ts`` is stored in the Slack-threads table,
every later message of that execution replies in it.

Two first messages of one run can arrive together (the tracker posts run and step events
concurrently). The thread item is therefore claimed with a conditional put *before* the root
is posted: the winner posts the root and stores its ``ts``; the other reads the item until the
``ts`` appears (up to ``THREAD_WAIT_SECONDS``) and replies in the thread. If the root is still
not posted by then (Slack rate-limiting the winner for long), the message is posted on its own
rather than lost. A claim whose poster failed is released; one whose poster died is taken
over after ``RESERVATION_LEASE_SECONDS``.

Slack is called with plain HTTPS (urllib), not ``slack_sdk``: the poster uses one Web API
method, the Lambda asset stays free of third-party packages (boto3 and Powertools come
from the runtime and layer), and the two behaviours that matter here — waiting for
``Retry-After`` on HTTP 429 and telling a dead channel from a dead token — are a few
explicit lines rather than SDK retry handlers to configure. ``DPC_SLACK_BASE_URL`` points
it at another Slack-compatible endpoint (the sandbox's and the tests' fake Slack).

Every message's text comes from a user account (the execution tracker composes it there from
pipeline and step names, errors and causes), so the poster treats it as untrusted: it escapes
``&``, ``<`` and ``>`` as Slack's formatting rules ask before posting. Otherwise any admitted
account could ping a whole channel (``<!channel>``, ``<@U…>``) or disguise a link
(``<https://…|runbook>``). dpc adds no mentions or markup links of its own; plain URLs (the
console link) stay clickable, as Slack links them itself.

A pipeline's registered channels are also checked against their owners
(dpc.lambdas.slack_channels) before each message, one BatchGetItem: registration already
refuses another account's channel, but a registration from before channels had owners, or
one the central allow-list has since excluded, must not keep writing into it.

Failures are per channel: a missing or archived channel is logged with its name and the
other channels still get the message. A rejected token (revoked, invalid) is re-read once
from Secrets Manager — it may just have been replaced — and otherwise logged as what to fix.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from dpc import constants
from dpc.lambdas.apigw import (
    MAX_SLACK_TEXT,
    ApiError,
    ApiRequest,
    execution_arn,
    pipeline_name,
    response,
    run_status,
)
from dpc.lambdas.clients import client
from dpc.lambdas.slack_channels import Owners, channel_name, parse_owners, read_claims, refusal

logger = Logger(service="dpc-slack-poster")

DEFAULT_SLACK_BASE_URL = "https://slack.com/api"
THREAD_RETENTION = timedelta(days=90)
THREAD_WAIT_SECONDS = 5.0
THREAD_WAIT_POLLS = 20
"""A message waiting for a concurrent first message's root reads the thread this often."""
RESERVATION_LEASE_SECONDS = 60
"""A root claim older than this belongs to a poster that died (the Lambda times out at 30 s)."""
MAX_WAIT_SECONDS = 20.0
"""Total Retry-After waiting per message: the poster's Lambda times out after 30 seconds."""
TOKEN_UNAVAILABLE = "token_unavailable"
AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
)


class SlackError(Exception):
    """Slack refused a message; ``code`` is Slack's error string (``channel_not_found``…)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code

    @property
    def is_auth(self) -> bool:
        return self.code in AUTH_ERRORS or self.code.startswith(TOKEN_UNAVAILABLE)


@dataclass(frozen=True)
class Posted:
    channel_id: str
    ts: str


class _Claim(Enum):
    RESERVED = "reserved"
    """This message posts the run's root in the channel and stores its ts."""
    UNTHREADED = "unthreaded"


@dataclass
class TokenCache:
    """The bot token, read from Secrets Manager once per container (and again on demand)."""

    secrets: Any
    secret_id: str
    _token: str | None = field(default=None, repr=False)

    def get(self) -> str:
        if self._token is None:
            try:
                secret = self.secrets.get_secret_value(SecretId=self.secret_id)
            except ClientError as error:
                code = error.response["Error"]["Code"]
                raise SlackError(f"{TOKEN_UNAVAILABLE} ({code})") from None
            self._token = str(secret["SecretString"])
        return self._token

    def forget(self) -> None:
        self._token = None


@dataclass(frozen=True)
class SlackWebApi:
    """``chat.postMessage`` over HTTPS, waiting out HTTP 429 as Slack asks (``Retry-After``)
    while the wait fits in ``max_wait`` seconds; beyond that the message fails as
    ``ratelimited`` rather than the Lambda timing out with nothing logged."""

    base_url: str
    token: Callable[[], str]
    sleep: Callable[[float], None] = time.sleep
    max_attempts: int = 4
    max_wait: float = MAX_WAIT_SECONDS
    timeout: float = 10.0

    def post_message(self, channel: str, text: str, thread_ts: str | None = None) -> Posted:
        body: dict[str, Any] = {"channel": channel, "text": text, "unfurl_links": False}
        if thread_ts is not None:
            body["thread_ts"] = thread_ts
        waited = 0.0
        for _ in range(self.max_attempts):
            request = urllib.request.Request(
                f"{self.base_url.rstrip('/')}/chat.postMessage",
                data=json.dumps(body).encode(),
                method="POST",
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "Authorization": f"Bearer {self.token()}",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                    answer = json.loads(reply.read())
            except urllib.error.HTTPError as error:
                if error.code != 429:
                    raise SlackError(f"http_{error.code}") from None
                wait = _retry_after(error.headers.get("Retry-After"))
                logger.warning("Slack rate limit", extra={"channel": channel, "retry_after": wait})
                if waited + wait > self.max_wait:
                    break
                self.sleep(wait)
                waited += wait
                continue
            except (urllib.error.URLError, TimeoutError) as error:
                raise SlackError(f"unreachable: {error}") from None
            if not answer.get("ok"):
                raise SlackError(str(answer.get("error", "unknown_error")))
            return Posted(channel_id=str(answer["channel"]), ts=str(answer["ts"]))
        raise SlackError("ratelimited")


def _retry_after(header: str | None) -> float:
    try:
        return max(float(header or 1), 0.0)
    except ValueError:
        return 1.0


@dataclass(frozen=True)
class Settings:
    channels_table: str
    threads_table: str
    token_secret_id: str
    slack_base_url: str
    channel_owners: Owners = field(default_factory=dict)
    """The central config's allow-list (dpc.lambdas.slack_channels)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        return cls(
            channels_table=env[constants.ENV_SLACK_CHANNELS_TABLE],
            threads_table=env[constants.ENV_SLACK_THREADS_TABLE],
            token_secret_id=env[constants.ENV_SLACK_TOKEN_SECRET],
            slack_base_url=env.get(constants.ENV_SLACK_BASE_URL) or DEFAULT_SLACK_BASE_URL,
            channel_owners=parse_owners(env.get(constants.ENV_SLACK_CHANNEL_OWNERS)),
        )


def pipeline_key(name: str, account: str) -> str:
    """The Slack-channels table key of a pipeline (``name@account``, as in the run log)."""
    return f"{name}@{account}"


@dataclass(frozen=True)
class SlackPoster:
    settings: Settings
    dynamodb: Any
    slack: SlackWebApi
    token: TokenCache
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], None] = time.sleep

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        try:
            request = ApiRequest.from_event(event)
            pipeline = pipeline_name(request.text("pipeline"), "pipeline")
            execution = execution_arn(request.text("execution"), "execution")
            text = request.text("text", max_length=MAX_SLACK_TEXT)
            if "status" in request.body:
                run_status(request.body["status"], "status")
            if _account_of(execution) != request.caller_account:
                raise ApiError(403, "an account may post only about its own executions")
            channels = self.channels(pipeline, request.caller_account)
        except ApiError as error:
            logger.error("message refused", extra={"status": error.status, "reason": str(error)})
            return response(error.status, {"message": str(error)})
        posted, failed = self.post(execution, channels, escape(text))
        status = 200 if not failed else 502
        return response(status, {"posted": posted, "failed": failed})

    def channels(self, pipeline: str, account: str) -> list[str]:
        key = pipeline_key(pipeline, account)
        item = self.dynamodb.get_item(
            TableName=self.settings.channels_table, Key={"pipeline": {"S": key}}
        ).get("Item")
        channels = [c["S"] for c in (item or {}).get("channels", {}).get("L", [])]
        if not channels:
            raise ApiError(404, f"no Slack channels are registered for {key}")
        return self._owned(channels, account)

    def _owned(self, channels: list[str], account: str) -> list[str]:
        """The channels ``account`` may still post to; a 403 when that is none of them."""
        names: dict[str, str] = {}
        refused: dict[str, str] = {}
        for channel in channels:
            try:
                names[channel] = channel_name(channel)
            except ApiError as error:  # a Slack id registered before ids were refused
                refused[channel] = str(error)
        claims = read_claims(self.dynamodb, self.settings.channels_table, names.values())
        for channel, name in names.items():
            why = refusal(name, account, self.settings.channel_owners, claims[name])
            if why is not None:
                refused[channel] = why
        for why in refused.values():
            logger.error(f"message not posted: {why}")
        allowed = [c for c in channels if c not in refused]
        if not allowed:
            raise ApiError(403, "; ".join(refused.values()))
        return allowed

    def post(
        self, execution: str, channels: list[str], text: str
    ) -> tuple[list[str], dict[str, str]]:
        """Post to every channel; one channel's failure never stops the others."""
        posted: list[str] = []
        failed: dict[str, str] = {}
        for channel in channels:
            try:
                self._post_in_thread(execution, channel, text)
                posted.append(channel)
            except SlackError as error:
                failed[channel] = error.code
                logger.error(
                    _explain(error, channel, self.settings.token_secret_id),
                    extra={"channel": channel, "execution": execution, "slack_error": error.code},
                )
        return posted, failed

    def _post_in_thread(self, execution: str, channel: str, text: str) -> None:
        thread = self._thread_or_reservation(execution, channel)
        if isinstance(thread, Posted):
            self._send(thread.channel_id, text, thread.ts)
            return
        try:
            posted = self._send(channel, text, None)
        except SlackError:
            if thread is _Claim.RESERVED:
                self._release_thread(execution, channel)
            raise
        if thread is _Claim.RESERVED:
            self._remember_thread(execution, channel, posted)

    def _send(self, channel: str, text: str, thread_ts: str | None) -> Posted:
        try:
            return self.slack.post_message(channel, text, thread_ts)
        except SlackError as error:
            if not error.is_auth:
                raise
            self.token.forget()  # the secret may have been replaced since it was cached
            return self.slack.post_message(channel, text, thread_ts)

    def _thread_or_reservation(self, execution: str, channel: str) -> Posted | _Claim:
        """The execution's thread in ``channel`` (its root posted), or the right to post the
        root (``RESERVED``), or ``UNTHREADED`` when another message's root is still being
        posted after ``THREAD_WAIT_POLLS`` reads: post on its own rather than not at all."""
        key = {"execution": {"S": execution}, "channel": {"S": channel}}
        for _ in range(THREAD_WAIT_POLLS):
            item = self.dynamodb.get_item(
                TableName=self.settings.threads_table, Key=key, ConsistentRead=True
            ).get("Item")
            if item is not None and "ts" in item:
                return Posted(channel_id=item["channel_id"]["S"], ts=item["ts"]["S"])
            now = int(self.now().timestamp())
            if item is None or int(item["reserved_at"]["N"]) < now - RESERVATION_LEASE_SECONDS:
                if self._reserve_thread(key, item, now):
                    return _Claim.RESERVED
                continue  # another message reserved it first: read what it wrote
            self.sleep(THREAD_WAIT_SECONDS / THREAD_WAIT_POLLS)
        logger.warning(
            "the first message of this run is still being posted: posting outside its thread",
            extra={"execution": execution, "channel": channel},
        )
        return _Claim.UNTHREADED

    def _reserve_thread(self, key: dict[str, Any], seen: dict[str, Any] | None, now: int) -> bool:
        """Claim the root before posting it, so two concurrent first messages never post two
        roots. A claim whose poster died (older than the lease) may be taken over."""
        condition = (
            "attribute_not_exists(execution)"
            if seen is None
            else "reserved_at = :seen AND attribute_not_exists(ts)"
        )
        values = {} if seen is None else {":seen": seen["reserved_at"]}
        expires = int((self.now() + THREAD_RETENTION).timestamp())
        try:
            self.dynamodb.put_item(
                TableName=self.settings.threads_table,
                Item={**key, "reserved_at": {"N": str(now)}, "expires_at": {"N": str(expires)}},
                ConditionExpression=condition,
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def _release_thread(self, execution: str, channel: str) -> None:
        """The root could not be posted: let the run's next message start the thread."""
        try:
            self.dynamodb.delete_item(
                TableName=self.settings.threads_table,
                Key={"execution": {"S": execution}, "channel": {"S": channel}},
                ConditionExpression="attribute_not_exists(ts)",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def _remember_thread(self, execution: str, channel: str, posted: Posted) -> None:
        self.dynamodb.update_item(
            TableName=self.settings.threads_table,
            Key={"execution": {"S": execution}, "channel": {"S": channel}},
            UpdateExpression="SET channel_id = :channel_id, ts = :ts",
            ExpressionAttributeValues={
                ":channel_id": {"S": posted.channel_id},
                ":ts": {"S": posted.ts},
            },
        )


def escape(text: str) -> str:
    """Text as Slack shows it literally: its control sequences (mentions, links, channel
    references) all start with ``<``, and ``&`` must go first so entities stay literal too."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _account_of(execution_arn: str) -> str | None:
    parts = execution_arn.split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" else None


def _explain(error: SlackError, channel: str, secret_id: str) -> str:
    if error.code.startswith(TOKEN_UNAVAILABLE):
        return (
            f"cannot read the Slack token from secret {secret_id} ({error.code}): check that "
            f"it exists and the poster may read it; message to #{channel} not posted"
        )
    if error.is_auth:
        return (
            f"Slack rejected the bot token ({error.code}): store a valid token in secret "
            f"{secret_id}; message to #{channel} not posted"
        )
    if error.code in {"channel_not_found", "not_in_channel", "is_archived"}:
        return (
            f"Slack channel #{channel} cannot receive messages ({error.code}): check its name "
            "in pipeline.yaml and invite the dpc bot to it"
        )
    return f"posting to Slack channel #{channel} failed ({error.code})"


@cache
def _poster() -> SlackPoster:
    """Composition root: settings, clients and the token cache live as long as the container."""
    settings = Settings.from_env(os.environ)
    token = TokenCache(client("secretsmanager"), settings.token_secret_id)
    return SlackPoster(
        settings=settings,
        dynamodb=client("dynamodb"),
        slack=SlackWebApi(settings.slack_base_url, token.get),
        token=token,
    )


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _poster().handle(event)
