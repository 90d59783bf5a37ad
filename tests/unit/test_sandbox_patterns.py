"""EventBridge pattern semantics the sandbox delivers by, on the events dpc really sends."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from dpc.sandbox.patterns import InvalidPatternError, matches

EVENTS = Path(__file__).parent / "events"


@pytest.fixture
def status_change() -> dict[str, Any]:
    return json.loads((EVENTS / "sfn_status_change.json").read_text())


@pytest.fixture
def trigger() -> dict[str, Any]:
    return json.loads((EVENTS / "pipeline_trigger.json").read_text())


# The export rule of a user account: native SFN events of dpc state machines only.
EXPORT_PATTERN = {
    "source": ["aws.states"],
    "detail-type": ["Step Functions Execution Status Change"],
    "detail": {"stateMachineArn": [{"prefix": "arn:aws:states:eu-west-1:111111111111:"}]},
}


def test_export_rule_matches_a_dpc_state_machine_status_change(status_change):
    assert matches(EXPORT_PATTERN, status_change)


def test_prefix_on_a_nested_detail_field_rejects_other_state_machines(status_change):
    status_change["detail"]["stateMachineArn"] = "arn:aws:states:eu-west-1:222:stateMachine:x"
    assert not matches(EXPORT_PATTERN, status_change)


def test_exact_source_rejects_another_source(status_change):
    status_change["source"] = "aws.ec2"
    assert not matches(EXPORT_PATTERN, status_change)


def test_list_of_values_is_an_or(status_change):
    pattern = {"detail": {"status": ["FAILED", "SUCCEEDED"]}}
    assert matches(pattern, status_change)
    status_change["detail"]["status"] = "RUNNING"
    assert not matches(pattern, status_change)


def test_route_rule_matches_only_its_account(trigger):
    route_c = {"source": ["dpc.trigger-manager"], "detail": {"account": ["333333333333"]}}
    route_b = {"source": ["dpc.trigger-manager"], "detail": {"account": ["222222222222"]}}
    assert matches(route_c, trigger)
    assert not matches(route_b, trigger)


def test_pipeline_rule_needs_both_name_and_account(trigger):
    rule = {
        "detail-type": ["Pipeline Trigger"],
        "detail": {"pipeline": ["pipeline-x"], "account": ["333333333333"]},
    }
    assert matches(rule, trigger)
    other_account = copy.deepcopy(trigger)
    other_account["detail"]["account"] = "111111111111"
    assert not matches(rule, other_account)


def test_pattern_field_missing_from_the_event_does_not_match(trigger):
    assert not matches({"detail": {"team": ["search"]}}, trigger)
    assert not matches({"detail": {"pipeline": {"inner": ["x"]}}}, trigger)


def test_fields_the_pattern_does_not_name_are_ignored(trigger):
    assert matches({}, trigger)
    assert matches({"detail": {}}, trigger)


def test_array_value_matches_when_any_element_matches(status_change):
    pattern = {"resources": [{"prefix": "arn:aws:states:eu-west-1:111111111111:execution:"}]}
    assert matches(pattern, status_change)
    assert not matches({"resources": ["arn:other"]}, status_change)


def test_anything_but(status_change):
    assert matches({"detail": {"status": [{"anything-but": "RUNNING"}]}}, status_change)
    assert not matches(
        {"detail": {"status": [{"anything-but": ["SUCCEEDED", "FAILED"]}]}}, status_change
    )
    assert not matches({"detail": {"status": [{"anything-but": {"prefix": "SUC"}}]}}, status_change)
    # anything-but never matches a field the event does not have
    assert not matches({"detail": {"missing": [{"anything-but": "x"}]}}, status_change)


def test_exists(status_change):
    assert matches({"detail": {"stopDate": [{"exists": True}]}}, status_change)
    del status_change["detail"]["stopDate"]
    assert not matches({"detail": {"stopDate": [{"exists": True}]}}, status_change)
    assert matches({"detail": {"stopDate": [{"exists": False}]}}, status_change)


def test_numeric_ranges_and_exact_numbers(trigger):
    assert matches({"detail": {"attempt": [{"numeric": [">", 0, "<=", 1]}]}}, trigger)
    assert not matches({"detail": {"attempt": [{"numeric": [">", 1]}]}}, trigger)
    assert matches({"detail": {"attempt": [1.0]}}, trigger)
    assert not matches({"detail": {"attempt": [True]}}, trigger)


def test_suffix_equals_ignore_case_and_wildcard(status_change):
    assert matches({"detail": {"name": [{"suffix": "-11-27"}]}}, status_change)
    assert matches({"detail": {"status": [{"equals-ignore-case": "succeeded"}]}}, status_change)
    assert matches({"detail": {"name": [{"wildcard": "listings-*-27"}]}}, status_change)
    assert not matches({"detail": {"name": [{"wildcard": "searches-*"}]}}, status_change)


def test_or_of_sub_patterns(status_change):
    pattern = {"$or": [{"source": ["dpc.trigger-manager"]}, {"detail": {"status": ["SUCCEEDED"]}}]}
    assert matches(pattern, status_change)
    status_change["detail"]["status"] = "FAILED"
    assert not matches(pattern, status_change)


@pytest.mark.parametrize(
    "pattern",
    [{"source": "aws.states"}, {"source": []}, {"detail": {"startDate": [{"numeric": [">"]}]}}],
)
def test_patterns_eventbridge_would_refuse_are_reported(pattern, status_change):
    with pytest.raises(InvalidPatternError):
        matches(pattern, status_change)
