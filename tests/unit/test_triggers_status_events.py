"""Reading the native Step Functions event, and the JSON form of a condition."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dpc.lambdas.trigger_manager import parse_status_change, status_change_event
from dpc.triggers.codec import ConditionFormatError, condition_from_json
from dpc.triggers.events import RunEvent
from dpc.triggers.model import ParentRef
from dpc.triggers.periods import parse_period

NATIVE = json.loads(
    (
        Path(__file__).parents[1] / "integration" / "events" / "sfn_listings_succeeded.json"
    ).read_text()
)


def test_a_native_event_names_the_pipeline_by_its_state_machine_and_account() -> None:
    change = parse_status_change(NATIVE)
    assert change is not None
    assert change.event == RunEvent(
        datetime(2026, 11, 27, 3, 10, tzinfo=UTC),  # stopDate of a terminal status
        ParentRef("listings", "111111111111"),
        "SUCCEEDED",
        "listings-2026-11-27",
        # started by hand, with no dpc input: no period yet (the trigger manager takes the
        # period of the pipeline's registered unit containing its start, DESIGN §5b)
    )
    assert change.source_account == "111111111111"
    assert change.record.started_at == datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def test_the_period_and_propagate_flag_come_from_the_runs_dpc_input() -> None:
    # Given a rerun of 26 November started with --no-downstream, finishing on the 27th
    rerun = copy.deepcopy(NATIVE)
    rerun["detail"]["input"] = json.dumps(
        {"dpc": {"period": "2026-11-26", "rerun_of": "listings-2026-11-26", "propagate": False}}
    )
    # When the trigger manager reads it
    change = parse_status_change(rerun)
    # Then the run processed the 26th, and no child may start on it
    assert change is not None
    assert str(change.event.period) == "2026-11-26"
    assert change.event.propagate is False


def test_running_is_timed_by_its_start() -> None:
    running = copy.deepcopy(NATIVE)
    running["detail"].update(status="RUNNING", stopDate=None)
    change = parse_status_change(running)
    assert change is not None and change.event.time == datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "change",
    [
        {"detail": {"stateMachineArn": "arn:aws:states:eu-west-1:111111111111:stateMachine:etl"}},
        {"detail-type": "Pipeline Trigger"},
        {"source": "my.app"},  # a custom event dressed as a Step Functions status change
        {"detail": {"status": "PENDING_REDRIVE"}},
    ],
)
def test_events_that_are_not_dpc_status_changes_are_ignored(change: dict[str, object]) -> None:
    event = copy.deepcopy(NATIVE)
    for key, value in change.items():
        if isinstance(value, dict):
            event[key].update(value)
        else:
            event[key] = value
    assert parse_status_change(event) is None


def test_the_event_built_for_simulate_reads_back_as_the_same_run() -> None:
    run = RunEvent(
        datetime(2026, 11, 27, 5, 10, tzinfo=UTC),
        ParentRef("searches", "222222222222"),
        "FAILED",
        "s-27",
        period=parse_period("2026-11-26"),
        propagate=False,
    )
    change = parse_status_change(status_change_event(run))
    assert change is not None and change.event == run


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"allOf": []}, "condition: allOf and anyOf are both empty"),
        ({"operator": "XOR", "allOf": []}, "condition.operator: 'XOR' is not AND or OR"),
        (
            {"anyOf": [{"name": "a", "account": "111111111111", "status": ["DONE"]}]},
            "condition.anyOf[0].status: 'DONE' is not one of",
        ),
        (
            {
                "allOf": [{"name": "a", "account": "111111111111", "status": ["SUCCESS"]}],
                "reset": {"cron": "0 25 * * ? *"},
            },
            "condition.reset.cron:",
        ),
        ({"allOf": [], "when": 1}, "condition: unknown field(s) when"),
    ],
)
def test_a_malformed_condition_names_the_field(condition: object, message: str) -> None:
    with pytest.raises(ConditionFormatError) as error:
        condition_from_json(condition)
    assert str(error.value).startswith(message)
