"""Cost of alerting per run: AWS requests, Slack calls and handler time, by notification type.

Replays RUNS failing runs (the history in tests/unit/events, one log batch per history
event, as a subscription filter may deliver it) through the execution tracker, the Slack
poster (called as API Gateway would) and a local Slack stand-in on real HTTP, with SNS,
DynamoDB and Secrets Manager on moto. Requests are counted through botocore's events.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from dpc.lambdas.execution_tracker import (
    HistoryEvent,
    Settings,
    Tracker,
    encode_subscription,
    event_from_log,
)
from dpc.lambdas.slack_channel_publisher import ChannelPublisher
from dpc.lambdas.slack_poster import Settings as PosterSettings
from dpc.lambdas.slack_poster import SlackPoster, SlackWebApi, TokenCache
from dpc.lambdas.tables import SLACK_CHANNELS, SLACK_THREADS, create_table_request

RUNS = 20
ACCOUNT = "222222222222"
HISTORY = Path(__file__).resolve().parents[1] / "tests/unit/events/sfn_history_failed_run.jsonl"
STEPS = {"Step aggregate": "aggregate", "Step export": "export"}


@contextmanager
def slack_stand_in() -> Iterator[tuple[str, Counter[str]]]:
    """Answers chat.postMessage with a fresh ts; counts requests."""
    calls: Counter[str] = Counter()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            calls["chat.postMessage"] += 1
            answer = {"ok": True, "channel": body["channel"], "ts": f"{calls.total()}.000100"}
            payload = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api", calls
    finally:
        server.shutdown()


def count_requests(clients: Sequence[Any], counter: Counter[str]) -> None:
    for client in clients:
        service = client.meta.service_model.service_name

        def count(model: Any, service: str = service, **_: Any) -> None:
            counter[f"{service}:{model.name}"] += 1

        client.meta.events.register("before-call.*.*", count)


def run(kind: str, slack_url: str, slack_calls: Counter[str]) -> dict[str, float]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        secrets = boto3.client("secretsmanager", region_name="eu-west-1")
        sns = boto3.client("sns", region_name="eu-west-1")
        dynamodb.create_table(**create_table_request(SLACK_CHANNELS, "channels"))
        dynamodb.create_table(**create_table_request(SLACK_THREADS, "threads"))
        secret = secrets.create_secret(Name="dpc/slack-token", SecretString="xoxb-bench")["ARN"]
        topic = sns.create_topic(Name="dpc-searches-notifications")["TopicArn"]
        ChannelPublisher("channels", dynamodb).put(
            f"searches@{ACCOUNT}", ACCOUNT, ["alerts", "team-b"]
        )

        requests: Counter[str] = Counter()
        count_requests([dynamodb, secrets, sns], requests)
        token = TokenCache(secrets, secret)
        poster = SlackPoster(
            PosterSettings("channels", "threads", secret, slack_url),
            dynamodb,
            SlackWebApi(slack_url, token.get),
            token,
        )
        poster_times: list[float] = []

        def through_api(message: Mapping[str, Any]) -> None:
            start = time.perf_counter()
            poster.handle(
                {
                    "httpMethod": "POST",
                    "requestContext": {"identity": {"accountId": ACCOUNT}},
                    "body": json.dumps(message),
                }
            )
            poster_times.append(time.perf_counter() - start)

        lines = HISTORY.read_text().splitlines()
        history_reads = 0
        batch_times: list[float] = []
        slack_calls.clear()
        for number in range(RUNS):
            arn_old = json.loads(lines[0])["execution_arn"]
            run_lines = [line.replace(arn_old, f"{arn_old}-{number}") for line in lines]
            so_far: list[HistoryEvent] = []

            def history(execution_arn: str, so_far: list[HistoryEvent] = so_far) -> Any:
                nonlocal history_reads
                history_reads += 1
                return so_far

            settings = Settings("searches", kind, STEPS, topic, "https://slack-api.invalid")  # type: ignore[arg-type]
            tracker = Tracker(settings, sns, through_api, history)
            for line in run_lines:
                so_far.append(event_from_log(line))  # type: ignore[arg-type]
                start = time.perf_counter()
                tracker.handle(encode_subscription("/aws/vendedlogs/states/dpc-searches", [line]))
                batch_times.append(time.perf_counter() - start)
        messages = len(poster_times)
        dynamo = sum(v for k, v in requests.items() if k.startswith("dynamodb:"))
        return {
            "messages per run": messages / RUNS,
            "SNS publishes per run": requests["sns:Publish"] / RUNS,
            "GetExecutionHistory per run": history_reads / RUNS,
            "Slack calls per message": slack_calls.total() / max(messages, 1),
            "DynamoDB requests per message": dynamo / max(messages, 1),
            "Secrets Manager reads (whole bench)": requests["secretsmanager:GetSecretValue"],
            "tracker ms per batch p50": statistics.median(batch_times) * 1000,
            "tracker ms per batch p99": statistics.quantiles(batch_times, n=100)[98] * 1000,
            "poster ms per message p50": statistics.median(poster_times or [0.0]) * 1000,
        }


def main() -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        os.environ.setdefault(name, value)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    import logging

    logging.disable(logging.WARNING)  # the handlers' INFO logs would drown the figures
    print(f"{RUNS} failing runs, 22 history events each, 2 Slack channels, one batch per event")
    with slack_stand_in() as (url, calls):
        results = {
            kind: run(kind, url, calls) for kind in ("FULL_EXECUTION", "ON_FINISH", "ON_FAILURE")
        }
    figures = next(iter(results.values()))
    print(f"{'':<38}" + "".join(f"{kind:>16}" for kind in results))
    for figure in figures:
        print(f"{figure:<38}" + "".join(f"{r[figure]:>16.2f}" for r in results.values()))


if __name__ == "__main__":
    main()
