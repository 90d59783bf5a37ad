"""The input a rule computes for its target, as `dpc redrive` recomputes it for a dead letter:
the starter's trigger and schedule targets (InputTransformer, as CDK synthesizes them), a
constant Input, an InputPath, and no input setting (the whole event)."""

from __future__ import annotations

import json

import pytest

from dpc.operate.rule_input import RuleInputError, target_input

EVENT = {
    "id": "e-1",
    "time": "2026-11-27T06:00:00Z",
    "detail-type": "Pipeline Trigger",
    "source": "dpc.trigger-manager",
    "detail": {"pipeline": "pipeline-x", "trigger_id": "abc", "causes": [{"execution": "l-1"}]},
}


def test_the_starters_trigger_target_gets_the_detail_as_a_json_value() -> None:
    target = {
        "Arn": "arn:aws:lambda:eu-west-1:333333333333:function:starter",
        "InputTransformer": {
            "InputPathsMap": {"detail": "$.detail"},
            "InputTemplate": '{"kind":"trigger","detail":<detail>}',
        },
    }
    assert json.loads(target_input(target, EVENT)) == {"kind": "trigger", "detail": EVENT["detail"]}


def test_a_string_placed_inside_quotes_is_inserted_as_text() -> None:
    target = {
        "InputTransformer": {
            "InputPathsMap": {"time": "$.time", "first": "$.detail.causes[0].execution"},
            "InputTemplate": '{"kind":"schedule","time":"<time>","note":"after <first>"}',
        }
    }
    assert json.loads(target_input(target, EVENT)) == {
        "kind": "schedule",
        "time": "2026-11-27T06:00:00Z",
        "note": "after l-1",
    }


def test_input_input_path_and_the_default_whole_event() -> None:
    assert target_input({"Input": '{"fixed": 1}'}, EVENT) == '{"fixed": 1}'
    assert json.loads(target_input({"InputPath": "$.detail.pipeline"}, EVENT)) == "pipeline-x"
    assert json.loads(target_input({}, EVENT)) == EVENT


def test_a_path_the_event_does_not_have_is_refused() -> None:
    with pytest.raises(RuleInputError, match=r"\$.detail.period"):
        target_input({"InputPath": "$.detail.period"}, EVENT)
