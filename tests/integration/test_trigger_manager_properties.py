"""Property: for random organizations mixing ``correlate: latest`` and ``correlate: period``
children, and event streams (duplicates, reordering, reruns of earlier periods, runs started
with --no-downstream, unknown pipelines), the Lambda's DynamoDB store fires exactly what the
in-memory engine fires, periods included."""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime, timedelta
from unittest import mock

import boto3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from dpc.lambdas.central import LocalCentral
from dpc.triggers.events import RunEvent
from dpc.triggers.model import STATUSES, Condition, Item, ParentRef
from dpc.triggers.periods import period_containing
from dpc.triggers.replay import replay_in_memory

ACCOUNTS = ("111111111111", "222222222222")
# Names where (name, account) order and DynamoDB's sort-key order differ ("c-a@…" < "c@…").
NAMES = ("p", "p-early", "c", "c-a", "c-b")
PIPELINES = tuple(ParentRef(name, ACCOUNTS[i % 2]) for i, name in enumerate(NAMES))
START = datetime(2026, 11, 27, tzinfo=UTC)
_tables = itertools.count()


@st.composite
def organizations(draw: st.DrawFn) -> dict[ParentRef, Condition]:
    """Children p2..p4, each waiting on earlier pipelines (a DAG, as validation demands)."""
    conditions = {}
    for index in range(2, len(PIPELINES)):
        if not draw(st.booleans()) and index != 2:
            continue
        earlier = PIPELINES[:index]

        def items(refs: list[ParentRef]) -> tuple[Item, ...]:
            statuses = st.frozensets(st.sampled_from(STATUSES[1:3]), min_size=1)
            return tuple(Item(ref, draw(statuses)) for ref in refs)

        all_of = items(draw(st.lists(st.sampled_from(earlier), unique=True, max_size=2)))
        any_of = items(draw(st.lists(st.sampled_from(earlier), unique=True, max_size=2)))
        if not all_of and not any_of:
            all_of = items([earlier[0]])
        operator = draw(st.sampled_from(["AND", "OR"]))
        if draw(st.booleans()):
            conditions[PIPELINES[index]] = Condition(
                all_of=all_of,
                any_of=any_of,
                operator=operator,
                correlate="period",
                rerun=draw(st.sampled_from(["retrigger", "ignore"])),
                keep=draw(st.sampled_from([timedelta(days=35), timedelta(hours=12)])),
            )
            continue
        conditions[PIPELINES[index]] = Condition(
            all_of=all_of,
            any_of=any_of,
            operator=operator,
            within=draw(st.sampled_from([None, timedelta(hours=6), timedelta(hours=30)])),
            reset_cron=draw(st.sampled_from([None, "0 0 * * ? *", "0 12 ? * MON-FRI *"])),
        )
    return conditions


@st.composite
def run_events(draw: st.DrawFn) -> RunEvent:
    """A run of the day it happens in, or a rerun of an earlier day; rarely --no-downstream."""
    time = START + timedelta(minutes=15 * draw(st.integers(0, 2 * 24 * 4)))
    days_back = draw(st.sampled_from([0, 0, 0, 1]))
    return RunEvent(
        time=time,
        pipeline=draw(st.sampled_from((*PIPELINES, ParentRef("stranger", "999999999999")))),
        status=draw(st.sampled_from(("SUCCEEDED", "SUCCEEDED", "SUCCEEDED", *STATUSES))),
        execution=draw(st.sampled_from(["run-a", "run-b", "run-c"])),
        period=period_containing("day", time - timedelta(days=days_back)),
        propagate=draw(st.sampled_from([True, True, True, True, False])),
    )


events = st.lists(
    run_events(),
    min_size=3,
    max_size=25,
).flatmap(
    # Redeliver some events again later in the stream, as EventBridge may.
    lambda stream: (
        st.lists(st.sampled_from(stream), max_size=5).map(lambda again: stream + again)
        if stream
        else st.just(stream)
    )
)


def fired(outcomes: object) -> list[tuple[int, dict[str, object]]]:
    return [(number, t.detail()) for number, outcome in outcomes for t in outcome.published]  # type: ignore[attr-defined]


def test_dynamodb_backend_fires_exactly_what_the_memory_engine_fires() -> None:
    credentials = {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    triggers_seen = []

    # Streams over two days (three made periods rarely complete: as few as 4 correlated
    # triggers in 60 examples). derandomize keeps a run reproducible, though the examples
    # still depend on what ran before in the process (4 to 22 correlated seen).
    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(conditions=organizations(), stream=events)
    def same_triggers(conditions: dict[ParentRef, Condition], stream: list[RunEvent]) -> None:
        expected = fired(replay_in_memory(conditions, stream))
        number = next(_tables)  # fresh tables and bus per example, one moto for all
        central = LocalCentral.create(
            boto3.client("dynamodb"), boto3.client("events"), f"bus-{number}", f"t{number}-"
        )
        assert fired(central.replay(PIPELINES, conditions, stream)) == expected
        correlated = [
            d for _, d in expected if conditions[ParentRef(d["pipeline"], d["account"])].correlated
        ]  # type: ignore[arg-type]
        triggers_seen.append((len(expected), len(correlated)))

    with mock.patch.dict(os.environ, credentials), mock_aws():
        same_triggers()
    # The generated streams do exercise triggering, of both kinds, not just silence.
    assert sum(n for n, _ in triggers_seen) > 10
    assert sum(n for _, n in triggers_seen) > 0
