"""Who may alert into a Slack channel: the channel's owner, shared by the channel publisher
(which records ownership) and the Slack poster (which honours it).

One bot token posts for every account, so without owners any admitted account could register
another team's channel and write into it. A channel therefore belongs to the first account
that registers it, until that account's last pipeline on it is gone; the central config's
allow-list (``setup-central-account --slack-channel CHANNEL=ACCOUNT,...``) names owners
explicitly and wins over first-come, so the data-platform team can share a channel between
accounts or take one back.

Ownership is by channel *name*, lowercased and without ``#`` (Slack's names are lowercase,
and ``#alerts`` is ``alerts``). Slack ids (``C0123ABCD``, ``U…``) and ``@user`` would reach
the same channel or person under another spelling, so they cannot be registered at all.

Ownership items live in the Slack-channels table next to the pipelines' items, under keys
no pipeline key can take (``CHANNEL#<name>``; a pipeline's is ``<name>@<12-digit account>``)::

    pipeline  S   "CHANNEL#<name>"
    owner     S   the owning account
    pipelines SS  the owner's pipeline keys using the channel; absent once none does, and an
                  item without it is unowned (DynamoDB drops an emptied set)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dpc.lambdas.apigw import ApiError

CHANNEL_PREFIX = "CHANNEL#"
SLACK_ID = re.compile(r"[CDGUW][A-Z0-9]{6,}")
"""Slack channel, DM and user ids: upper case, which a channel name never is."""

Owners = Mapping[str, frozenset[str]]
"""The central allow-list: channel name → accounts that may register it."""


def channel_name(address: str) -> str:
    """The name ownership is recorded under, or a 400 for an address that is not a name."""
    name = address.removeprefix("#")
    if SLACK_ID.fullmatch(name) or name.startswith("@"):
        raise ApiError(
            400,
            f"Slack channel {address} is not a channel name: register channels by name "
            "(#name), which is what their owner is recorded under",
        )
    return name.lower()


def owner_key(name: str) -> dict[str, Any]:
    return {"pipeline": {"S": CHANNEL_PREFIX + name}}


def parse_owners(text: str | None) -> Owners:
    """The allow-list from its environment variable (``{"channel": ["account", ...]}``)."""
    raw = json.loads(text) if text else {}
    return {channel_name(c): frozenset(str(a) for a in accounts) for c, accounts in raw.items()}


@dataclass(frozen=True)
class Claim:
    """A channel's ownership item as read: its owner while a pipeline of it uses the channel."""

    owner: str | None
    pipelines: frozenset[str]

    @classmethod
    def of(cls, item: Mapping[str, Any] | None) -> Claim:
        pipelines = frozenset((item or {}).get("pipelines", {}).get("SS", []))
        owner = (item or {}).get("owner", {}).get("S") if pipelines else None
        return cls(owner, pipelines)


def read_claims(dynamodb: Any, table: str, names: Iterable[str]) -> dict[str, Claim]:
    """The ownership of each channel (unowned ones included), in one BatchGetItem."""
    wanted = sorted(set(names))
    claims = {name: Claim(None, frozenset()) for name in wanted}
    keys = [owner_key(name) for name in wanted]
    while keys:
        answer = dynamodb.batch_get_item(
            RequestItems={table: {"Keys": keys, "ConsistentRead": True}}
        )
        for item in answer.get("Responses", {}).get(table, []):
            claims[item["pipeline"]["S"].removeprefix(CHANNEL_PREFIX)] = Claim.of(item)
        keys = answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
    return claims


def refusal(name: str, account: str, owners: Owners, claim: Claim) -> str | None:
    """Why ``account`` may not use channel ``name`` (one line), or None when it may."""
    if name in owners:
        allowed = owners[name]
        if account in allowed:
            return None
        listed = ", ".join(sorted(allowed))
        whose = f"account {listed}" if len(allowed) == 1 else f"accounts {listed}"
        return (
            f"Slack channel #{name} belongs to {whose} (central config): account {account} "
            "may not use it; pick another channel or ask the data-platform team"
        )
    if claim.owner is None or claim.owner == account:
        return None
    return (
        f"Slack channel #{name} belongs to account {claim.owner}, whose pipelines registered "
        f"it first: account {account} may not use it; pick another channel or ask the "
        f"data-platform team to share it (setup-central-account --slack-channel "
        f"{name}={claim.owner},{account})"
    )
