"""The Slack poster against a fake Slack on real HTTP, with its tables and secret on moto."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest

ACCOUNT_A = "111111111111"
ACCOUNT_B = "222222222222"
RUN_1 = f"arn:aws:states:eu-west-1:{ACCOUNT_A}:execution:dpc-listings:listings-2026-11-27"
RUN_2 = f"arn:aws:states:eu-west-1:{ACCOUNT_A}:execution:dpc-listings:listings-2026-11-28"


def test_messages_of_one_run_form_one_thread(central: Any, fake_slack: Any) -> None:
    # Given listings alerts to one channel
    central.register(["data-pipeline-alerts"])
    # When three messages of the same run are posted
    for text in ("run started", "step aggregate started", "run FAILED"):
        assert central.post(RUN_1, text)["status"] == 200
    # Then the first is the thread's root and the other two reply to it, in order
    root, *replies = fake_slack.in_channel("C0ALERTS")
    assert root["thread_ts"] is None and root["text"] == "run started"
    assert [r["thread_ts"] for r in replies] == [root["ts"], root["ts"]]
    assert [r["text"] for r in replies] == ["step aggregate started", "run FAILED"]


def test_each_run_gets_its_own_thread(central: Any, fake_slack: Any) -> None:
    central.register(["data-pipeline-alerts"])
    # When two runs interleave their messages
    central.post(RUN_1, "day 1 started")
    central.post(RUN_2, "day 2 started")
    central.post(RUN_1, "day 1 finished")
    central.post(RUN_2, "day 2 finished")
    # Then there are two roots, and each run's second message replies to its own root
    roots = {m["text"]: m["ts"] for m in fake_slack.messages if m["thread_ts"] is None}
    assert set(roots) == {"day 1 started", "day 2 started"}
    replies = {m["text"]: m["thread_ts"] for m in fake_slack.messages if m["thread_ts"]}
    assert replies == {
        "day 1 finished": roots["day 1 started"],
        "day 2 finished": roots["day 2 started"],
    }


def test_each_channel_keeps_its_own_thread(central: Any, fake_slack: Any) -> None:
    central.register(["data-pipeline-alerts", "team-b"])
    central.post(RUN_1, "first")
    central.post(RUN_1, "second")
    for channel_id in ("C0ALERTS", "C0TEAMB"):
        root, reply = fake_slack.in_channel(channel_id)
        assert reply["thread_ts"] == root["ts"]


def test_rate_limit_waits_retry_after_then_posts(central: Any, fake_slack: Any) -> None:
    central.register(["data-pipeline-alerts"])
    # Given Slack answers the next request with 429, Retry-After: 2
    fake_slack.rate_limit_next = 1
    fake_slack.retry_after = 2
    # When a message is posted
    reply = central.post(RUN_1, "run started")
    # Then the poster waited the 2 seconds Slack asked for, retried, and the message is there once
    assert reply["status"] == 200
    assert central.waits == [2.0]
    assert [m["text"] for m in fake_slack.messages] == ["run started"]
    assert fake_slack.requests == 2


def test_rate_limit_that_never_ends_is_reported_not_looped(central: Any, fake_slack: Any) -> None:
    central.register(["data-pipeline-alerts"])
    fake_slack.rate_limit_next = 100
    reply = central.post(RUN_1, "run started")
    assert reply["status"] == 502
    assert reply["failed"] == {"data-pipeline-alerts": "ratelimited"}
    assert len(central.waits) == 4 and fake_slack.messages == []


def test_a_retry_after_longer_than_the_lambda_can_wait_fails_at_once(
    central: Any, fake_slack: Any
) -> None:
    central.register(["data-pipeline-alerts"])
    fake_slack.rate_limit_next = 1
    fake_slack.retry_after = 60
    reply = central.post(RUN_1, "run started")
    assert reply["failed"] == {"data-pipeline-alerts": "ratelimited"}
    assert central.waits == [] and fake_slack.requests == 1


def test_invalid_channel_is_reported_and_other_channels_still_get_the_message(
    central: Any, fake_slack: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a pipeline whose second channel does not exist
    central.register(["data-pipeline-alerts", "no-such-channel", "team-b"])
    # When a message is posted
    reply = central.post(RUN_1, "run FAILED")
    # Then the two real channels have it, and the bad one is named in the answer and the log
    assert reply["status"] == 502
    assert reply["posted"] == ["data-pipeline-alerts", "team-b"]
    assert reply["failed"] == {"no-such-channel": "channel_not_found"}
    assert {m["channel"] for m in fake_slack.messages} == {"C0ALERTS", "C0TEAMB"}
    assert "#no-such-channel cannot receive messages (channel_not_found)" in caplog.text


def test_revoked_token_is_a_clear_error_and_a_replaced_token_is_picked_up(
    central: Any, fake_slack: Any, slack_aws: Any, caplog: pytest.LogCaptureFixture
) -> None:
    central.register(["data-pipeline-alerts"])
    central.post(RUN_1, "warm the token cache")
    # Given Slack revokes the cached token
    fake_slack.token = "xoxb-new-token"
    # When a message is posted
    reply = central.post(RUN_1, "lost")
    # Then the failure names the fix, and no token appears in the logs
    assert reply["status"] == 502 and reply["failed"] == {"data-pipeline-alerts": "invalid_auth"}
    logs = "\n".join(str(vars(record)) for record in caplog.records)
    assert "Slack rejected the bot token (invalid_auth): store a valid token" in logs
    assert "xoxb-" not in logs
    # When the team stores the new token, the same container posts again (no restart)
    slack_aws.secrets.put_secret_value(SecretId=slack_aws.secret_id, SecretString="xoxb-new-token")
    assert central.post(RUN_1, "back")["status"] == 200
    assert fake_slack.messages[-1]["text"] == "back"
    assert fake_slack.messages[-1]["thread_ts"] == fake_slack.messages[0]["ts"]


def test_an_account_cannot_post_about_another_accounts_run(central: Any, fake_slack: Any) -> None:
    central.register(["data-pipeline-alerts"])
    reply = central.post(RUN_1, "spoofed", account=ACCOUNT_B)
    assert reply["status"] == 403
    assert fake_slack.messages == []


def test_pipeline_without_registered_channels_is_a_404(central: Any, fake_slack: Any) -> None:
    reply = central.post(RUN_1, "nobody listens")
    assert reply["status"] == 404
    assert f"no Slack channels are registered for listings@{ACCOUNT_A}" in reply["message"]
    assert fake_slack.requests == 0


def test_unreadable_token_secret_is_a_clear_error(
    central: Any, fake_slack: Any, slack_aws: Any, caplog: pytest.LogCaptureFixture
) -> None:
    central.register(["data-pipeline-alerts"])
    # Given the token secret was deleted
    slack_aws.secrets.delete_secret(SecretId=slack_aws.secret_id, ForceDeleteWithoutRecovery=True)
    # When a message is posted, the answer and the log say which secret to fix
    reply = central.post(RUN_1, "run started")
    assert reply["status"] == 502
    assert reply["failed"] == {
        "data-pipeline-alerts": "token_unavailable (ResourceNotFoundException)"
    }
    assert f"cannot read the Slack token from secret {slack_aws.secret_id}" in caplog.text
    assert fake_slack.requests == 0


class BothLookUpTheThreadFirst:
    """The DynamoDB client of two concurrent posters whose first thread look-ups both happen
    before either has posted: the race of two first messages of one run, made certain."""

    def __init__(self, client: Any, threads_table: str) -> None:
        self.client, self.threads_table = client, threads_table
        self.barrier = threading.Barrier(2, timeout=10)
        self.first_lookups = 2
        self.lock = threading.Lock()

    def get_item(self, **request: Any) -> Any:
        answer = self.client.get_item(**request)
        if request["TableName"] == self.threads_table:
            with self.lock:
                first, self.first_lookups = self.first_lookups > 0, self.first_lookups - 1
            if first:
                self.barrier.wait()
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_two_concurrent_first_messages_of_a_run_share_one_thread(
    central: Any, slack_aws: Any, fake_slack: Any
) -> None:
    central.register(["data-pipeline-alerts"])
    racing = BothLookUpTheThreadFirst(slack_aws.dynamodb, slack_aws.threads_table)
    central.poster = replace(central.poster, dynamodb=racing, sleep=lambda _: time.sleep(0.05))
    # When two first messages of one run are posted at the same moment
    with ThreadPoolExecutor(max_workers=2) as pool:
        replies = list(pool.map(lambda text: central.post(RUN_1, text), ["a", "b"]))
    # Then both are posted, one as the thread's root and the other as a reply in it
    assert [r["status"] for r in replies] == [200, 200]
    root, reply = fake_slack.in_channel("C0ALERTS")
    assert root["thread_ts"] is None and reply["thread_ts"] == root["ts"]
    # And the run's next message replies in that thread too
    central.post(RUN_1, "c")
    assert fake_slack.in_channel("C0ALERTS")[-1]["thread_ts"] == root["ts"]


def test_a_root_that_could_not_be_posted_lets_the_next_message_start_the_thread(
    central: Any, fake_slack: Any
) -> None:
    central.register(["data-pipeline-alerts"])
    fake_slack.rate_limit_next = 100
    assert central.post(RUN_1, "lost")["status"] == 502
    fake_slack.rate_limit_next = 0
    assert central.post(RUN_1, "first")["status"] == 200
    assert central.post(RUN_1, "second")["status"] == 200
    root, reply = fake_slack.in_channel("C0ALERTS")
    assert root["thread_ts"] is None and reply["thread_ts"] == root["ts"]


def test_whatever_text_an_account_posts_is_escaped_for_slack(central: Any, fake_slack: Any) -> None:
    # Given a pipeline whose caller sends Slack control sequences in its message text
    central.register(["data-pipeline-alerts"])
    central.post(RUN_1, "[dpc] <!here> <!subteam^S0ADMINS> a&b <#C0TEAMB|team-b>")
    # Then Slack receives them as literal text
    (message,) = fake_slack.messages
    assert message["text"] == (
        "[dpc] &lt;!here&gt; &lt;!subteam^S0ADMINS&gt; a&amp;b &lt;#C0TEAMB|team-b&gt;"
    )
