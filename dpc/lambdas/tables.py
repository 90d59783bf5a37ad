"""The central account's DynamoDB tables, as plain data: one description read by the CDK stack
(dpc.infra), the sandbox and the tests, so keys and index names are written down only here.

Every table is on-demand, encrypted, with point-in-time recovery, retained on stack deletion
(the infrastructure decides those; this module only says what the code relies on).

RunLog (env ``DPC_RUN_LOG_TABLE``) — one item per execution of a pipeline::

    pipeline   S  partition key, "name@account"
    execution  S  sort key, the Step Functions execution name
    name, account, execution_arn, status (newest accepted), input (JSON string),
    started     S  "2026-11-27T03:00:00.000Z#<execution>" (ISO start, then the execution, so
                   equal start times stay distinct) — sort key of both indexes below
    day         S  "2026-11-27", the UTC start day — partition key of GSI by-day
    started_at, stopped_at  S  ISO times (stopped_at absent while running)
    statuses    SS every status accepted for this execution (§5 rule 1: duplicates)
    finished    SS statuses whose evaluation of all children completed (crash recovery)
    updated_at  S

  ``dpc runs PIPELINE``: Query LSI ``by-start`` (pipeline = :p, ScanIndexForward=False).
  ``dpc runs``: Query GSI ``by-day`` for today, then yesterday, ... (ScanIndexForward=False):
  newest first across pipelines, no scan.

Dependencies (env ``DPC_DEPENDENCIES_TABLE``) — the registry, single-table::

    pk S, sk S
    registration: pk "PIPELINE#<name>@<account>", sk "#REGISTRATION"
                  name, account, state_machine_arn, condition (JSON, see
                  dpc.triggers.codec), schedule, period (JSON {unit, offsetSeconds},
                  PeriodSpec.to_json; absent on registrations older than periods),
                  parents (L of "name@account"), kind, updated_at
    child edge:   pk "PIPELINE#<parent name>@<parent account>",
                  sk "CHILD#<child name>@<child account>"
                  child_name, child_account, condition (the child's condition, copied here)

  A parent's registration and all its children (with their conditions) share one partition,
  so the trigger manager gets both with ONE Query, whatever the organization's size.
  pipeline → parents: GetItem of the registration (``parents``). GSI ``by-kind`` (sparse:
  only registrations carry ``kind`` = "REGISTRATION") lists every pipeline without a scan.

TriggerState (env ``DPC_TRIGGER_STATE_TABLE``) — §5 state, idempotency and explanations::

    pk S, sk S, expires_at N (TTL, epoch seconds; absent on child state)
    child state:  pk "CHILD#<name>@<account>", sk "#STATE" — see dpc.lambdas.store_dynamodb
                  version N (optimistic concurrency), last M, applied M, clock S, outbox M
                  outbox_pk S = "OUTBOX", outbox_since S (ISO): only while the outbox holds
                  entries (sparse) — keys of GSI ``outbox-by-age``
    trigger:      pk "TRIGGER#<trigger id>", sk "#TRIGGER" — conditional put (exactly once)
                  child, account, causes (JSON), event, recorded_at; TTL 400 days
    evaluation:   pk "WHY#<name>@<account>", sk "<evaluated_at ISO>#<event key>"
                  record (JSON of dpc.triggers.events.Evaluation), result, trigger_id; TTL 30 days

  ``dpc why CHILD``: Query pk = "WHY#<child>", ScanIndexForward=False → newest first.
  Outbox sweep and ``dpc doctor``: Query GSI ``outbox-by-age`` (outbox_pk = "OUTBOX" AND
  outbox_since <= cutoff): only states with unpublished triggers are in it, so finding the
  stale ones costs one Query page, not a scan. One constant partition is enough: it takes a
  write per trigger recorded and published, far below a partition's 1,000 writes/s.

SlackChannels (env ``DPC_SLACK_CHANNELS_TABLE``) — written by the Slack-channel publisher::

    pipeline  S  partition key, "name@account"
    channels  L  the pipeline's SLACK addresses, in pipeline.yaml order; version N
                 (optimistic concurrency), updated_at S
    channel ownership: pipeline "CHANNEL#<channel name>", owner S, pipelines SS — who may
                 alert into the channel (dpc.lambdas.slack_channels)

  The Slack poster reads one item per message (GetItem), then its channels' ownership
  (BatchGetItem).

SlackThreads (env ``DPC_SLACK_THREADS_TABLE``) — one Slack thread per execution and channel::

    execution S  partition key, the Step Functions execution ARN
    channel   S  sort key, the channel as pipeline.yaml names it
    reserved_at N (epoch seconds the root was claimed), expires_at N (TTL, 90 days),
    ts S (the root message's Slack timestamp) and channel_id S, once the root is posted

  Claimed with a conditional put before the root is posted, so concurrent first messages of
  one run post one root (dpc.lambdas.slack_poster).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from dpc.constants import (
    ENV_DEPENDENCIES_TABLE,
    ENV_RUN_LOG_TABLE,
    ENV_SLACK_CHANNELS_TABLE,
    ENV_SLACK_THREADS_TABLE,
    ENV_TRIGGER_STATE_TABLE,
)

KeyType = Literal["S", "N", "B"]


@dataclass(frozen=True)
class Key:
    name: str
    type: KeyType = "S"


@dataclass(frozen=True)
class Index:
    """A secondary index projecting all attributes; ``local`` means an LSI (same partition key)."""

    name: str
    partition_key: Key
    sort_key: Key | None = None
    local: bool = False


@dataclass(frozen=True)
class Table:
    logical_id: str
    """PascalCase id for CDK; the physical name is left to CloudFormation."""
    env_var: str
    """The Lambda environment variable that carries the physical table name."""
    partition_key: Key
    sort_key: Key | None = None
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None


RUN_LOG = Table(
    logical_id="RunLog",
    env_var=ENV_RUN_LOG_TABLE,
    partition_key=Key("pipeline"),
    sort_key=Key("execution"),
    indexes=(
        Index("by-start", Key("pipeline"), Key("started"), local=True),
        Index("by-day", Key("day"), Key("started")),
    ),
)

DEPENDENCIES = Table(
    logical_id="Dependencies",
    env_var=ENV_DEPENDENCIES_TABLE,
    partition_key=Key("pk"),
    sort_key=Key("sk"),
    indexes=(Index("by-kind", Key("kind"), Key("pk")),),
)

OUTBOX_INDEX = "outbox-by-age"
OUTBOX_PARTITION = "OUTBOX"
"""The one value of ``outbox_pk``: every state with unpublished triggers, oldest first."""

TRIGGER_STATE = Table(
    logical_id="TriggerState",
    env_var=ENV_TRIGGER_STATE_TABLE,
    partition_key=Key("pk"),
    sort_key=Key("sk"),
    indexes=(Index(OUTBOX_INDEX, Key("outbox_pk"), Key("outbox_since")),),
    ttl_attribute="expires_at",
)

CENTRAL_TABLES: tuple[Table, ...] = (RUN_LOG, DEPENDENCIES, TRIGGER_STATE)
"""Tables the trigger manager and the dependencies publisher use (Slack tables live elsewhere)."""
REGISTRY_TABLES: tuple[Table, ...] = (DEPENDENCIES, TRIGGER_STATE)
"""The dependencies publisher's: the registry, and the state a re-registration resets."""

SLACK_CHANNELS = Table(
    logical_id="SlackChannels",
    env_var=ENV_SLACK_CHANNELS_TABLE,
    partition_key=Key("pipeline"),
)

SLACK_THREADS = Table(
    logical_id="SlackThreads",
    env_var=ENV_SLACK_THREADS_TABLE,
    partition_key=Key("execution"),
    sort_key=Key("channel"),
    ttl_attribute="expires_at",
)

SLACK_TABLES: tuple[Table, ...] = (SLACK_CHANNELS, SLACK_THREADS)
"""Tables of the Slack alerting service (the channel publisher and the Slack poster)."""


def create_table_request(table: Table, table_name: str) -> dict[str, Any]:
    """Keyword arguments for boto3 ``create_table`` (sandbox and tests; CDK builds its own)."""
    keys = [table.partition_key, *([table.sort_key] if table.sort_key else [])]
    for index in table.indexes:
        keys += [index.partition_key, *([index.sort_key] if index.sort_key else [])]
    attributes = {key.name: key.type for key in keys}

    def schema(partition: Key, sort: Key | None) -> list[dict[str, str]]:
        parts = [{"AttributeName": partition.name, "KeyType": "HASH"}]
        if sort is not None:
            parts.append({"AttributeName": sort.name, "KeyType": "RANGE"})
        return parts

    request: dict[str, Any] = {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": kind} for name, kind in attributes.items()
        ],
        "KeySchema": schema(table.partition_key, table.sort_key),
    }
    for local, field in ((False, "GlobalSecondaryIndexes"), (True, "LocalSecondaryIndexes")):
        indexes = [i for i in table.indexes if i.local is local]
        if indexes:
            request[field] = [
                {
                    "IndexName": i.name,
                    "KeySchema": schema(i.partition_key, i.sort_key),
                    "Projection": {"ProjectionType": "ALL"},
                }
                for i in indexes
            ]
    return request


def create_tables(
    client: Any, prefix: str = "dpc-", tables: tuple[Table, ...] = CENTRAL_TABLES
) -> dict[str, str]:
    """Create ``tables`` with boto3 (sandbox, tests, ``dpc simulate``); returns the Lambda
    environment {env var: table name} that points the handlers at them."""
    environment = {}
    for table in tables:
        name = prefix + table.logical_id
        client.create_table(**create_table_request(table, name))
        if table.ttl_attribute is not None:
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )
        environment[table.env_var] = name
    return environment
