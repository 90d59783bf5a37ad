"""Fixtures of the integration tests: a fake Slack on real HTTP, and moto for the AWS side."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from moto import mock_aws

from dpc.lambdas.slack_channel_publisher import ChannelPublisher
from dpc.lambdas.slack_poster import Settings, SlackPoster, SlackWebApi, TokenCache
from dpc.lambdas.tables import SLACK_CHANNELS, SLACK_THREADS, create_table_request

SLACK_TOKEN = "xoxb-test-token-0123456789"


@dataclass
class FakeSlack:
    """A Slack Web API double: ``chat.postMessage`` with Slack's answers and error codes.

    Channels are known by name and id; ``rate_limit_next`` answers that many upcoming
    requests with HTTP 429 and ``Retry-After``; ``token`` is the only bot token accepted.
    """

    url: str = ""
    token: str = SLACK_TOKEN
    channels: dict[str, str] = field(
        default_factory=lambda: {"data-pipeline-alerts": "C0ALERTS", "team-b": "C0TEAMB"}
    )
    messages: list[dict[str, Any]] = field(default_factory=list)
    rate_limit_next: int = 0
    retry_after: int = 2
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, authorization: str, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.requests += 1
            if self.rate_limit_next > 0:
                self.rate_limit_next -= 1
                return (
                    429,
                    {"Retry-After": str(self.retry_after)},
                    {"ok": False, "error": "ratelimited"},
                )
            if authorization != f"Bearer {self.token}":
                return 200, {}, {"ok": False, "error": "invalid_auth"}
            channel = body.get("channel", "")
            channel_id = self.channels.get(channel) or (
                channel if channel in self.channels.values() else None
            )
            if channel_id is None:
                return 200, {}, {"ok": False, "error": "channel_not_found"}
            ts = f"{1764300000 + len(self.messages)}.{len(self.messages):06d}"
            self.messages.append(
                {
                    "channel": channel_id,
                    "ts": ts,
                    "thread_ts": body.get("thread_ts"),
                    "text": body.get("text", ""),
                }
            )
            return 200, {}, {"ok": True, "channel": channel_id, "ts": ts}

    def in_channel(self, channel_id: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["channel"] == channel_id]


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    slack = FakeSlack()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != "/api/chat.postMessage":
                self.send_error(404)
                return
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            status, headers, answer = slack.answer(self.headers.get("Authorization", ""), body)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            for name, value in {**headers, "Content-Type": "application/json"}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    slack.url = f"http://127.0.0.1:{server.server_address[1]}/api"
    try:
        yield slack
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class SlackAws:
    """The central account's Slack pieces on moto: the two tables and the token secret."""

    dynamodb: Any
    secrets: Any
    channels_table: str
    threads_table: str
    secret_id: str


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def slack_aws(aws_env: None) -> Iterator[SlackAws]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        secrets = boto3.client("secretsmanager", region_name="eu-west-1")
        dynamodb.create_table(**create_table_request(SLACK_CHANNELS, "slack-channels"))
        dynamodb.create_table(**create_table_request(SLACK_THREADS, "slack-threads"))
        secret = secrets.create_secret(Name="dpc/slack-token", SecretString=SLACK_TOKEN)
        yield SlackAws(dynamodb, secrets, "slack-channels", "slack-threads", secret["ARN"])


@dataclass(frozen=True)
class Topic:
    """A pipeline's notification topic on moto, with a queue subscribed to read what it got."""

    sns: Any
    sqs: Any
    arn: str
    queue_url: str

    def received(self) -> list[dict[str, Any]]:
        """The SNS notifications delivered so far (subject, message, attributes)."""
        out = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            if not batch.get("Messages"):
                return out
            for message in batch["Messages"]:
                out.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )


@pytest.fixture
def notification_topic(slack_aws: SlackAws) -> Topic:
    sns = boto3.client("sns", region_name="eu-west-1")
    sqs = boto3.client("sqs", region_name="eu-west-1")
    arn = sns.create_topic(Name="dpc-searches-notifications")["TopicArn"]
    sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="team@example.com")
    queue_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    return Topic(sns, sqs, arn, queue_url)


def api_event(
    method: str, account: str, body: dict[str, Any], path: dict[str, str] | None = None
) -> dict[str, Any]:
    """What API Gateway (REST, IAM auth) hands the Lambda for a signed request."""
    return {
        "httpMethod": method,
        "requestContext": {"identity": {"accountId": account}},
        "pathParameters": path,
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


class Central:
    """The central Slack service as deployed: channel publisher + poster over the same tables."""

    def __init__(self, slack_aws: Any, fake_slack: Any) -> None:
        self.waits: list[float] = []
        self.token = TokenCache(slack_aws.secrets, slack_aws.secret_id)
        self.poster = SlackPoster(
            settings=Settings(
                slack_aws.channels_table,
                slack_aws.threads_table,
                slack_aws.secret_id,
                fake_slack.url,
            ),
            dynamodb=slack_aws.dynamodb,
            slack=SlackWebApi(fake_slack.url, self.token.get, sleep=self.waits.append),
            token=self.token,
        )
        self.publisher = ChannelPublisher(slack_aws.channels_table, slack_aws.dynamodb)

    def register(
        self, channels: list[str], name: str = "listings", account: str = "111111111111"
    ) -> dict[str, Any]:
        return self.publisher.handle(
            api_event("PUT", account, {"channels": channels}, {"account": account, "name": name})
        )

    def post(
        self,
        execution: str,
        text: str,
        account: str = "111111111111",
        pipeline: str = "listings",
    ) -> dict[str, Any]:
        reply = self.poster.handle(
            api_event(
                "POST",
                account,
                {"pipeline": pipeline, "execution": execution, "status": "RUNNING", "text": text},
            )
        )
        return {"status": reply["statusCode"], **json.loads(reply["body"])}


@pytest.fixture
def central(slack_aws: SlackAws, fake_slack: FakeSlack) -> Central:
    return Central(slack_aws, fake_slack)


@pytest.fixture
def signed_request() -> Any:
    """Builds the proxy event API Gateway hands a Lambda for an IAM-signed request."""
    return api_event
