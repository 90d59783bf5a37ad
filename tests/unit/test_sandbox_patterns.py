"""EventBridge pattern semantics the sandbox delivers by, on the events dpc really sends."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from dpc.sandbox.patterns import InvalidPatternError, matches, validate

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
    assert matches({"source": ["dpc.trigger-manager"]}, trigger)
    assert matches({"detail": {"attempt": [1]}}, trigger)


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
    assert matches({"detail": {"attempt": [1]}}, trigger)
    assert not matches({"detail": {"attempt": [1.0]}}, trigger)  # the text differs
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


# --- every example of the EventBridge user guide's pattern pages, positive and negative ---
#
# Each row is (pattern, event, expected). The examples come from the pages named in the
# comments; where a page shows only a pattern, the event is the smallest one the page's text
# says it matches (or, for the negative row, the nearest one it says it does not).

# "Amazon EventBridge event patterns" / "Creating event patterns"
EC2_TERMINATED = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"},
}
EC2_TERMINATION_PATTERN = {
    "source": ["aws.ec2"],
    "detail-type": ["EC2 Instance State-change Notification"],
    "detail": {"state": ["terminated"]},
}
# "Matching null values and empty strings in Amazon EventBridge event patterns" (also the
# "Field matching" example of "Amazon EventBridge event patterns")
AUTOSCALING_LAUNCH = {
    "version": "0",
    "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
    "detail-type": "EC2 Instance Launch Successful",
    "source": "aws.autoscaling",
    "account": "123456789012",
    "time": "2015-11-11T21:31:47Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {"eventVersion": "", "responseElements": None},
}
# "Amazon EventBridge event patterns", "Value matching" (the page truncates the event)
MACIE_ALERT = {
    "detail-type": "Macie Alert",
    "source": "aws.macie",
    "detail": {
        "notification-type": "ALERT_CREATED",
        "tags": ["Custom_Alert", "Insider"],
        "risk-score": 80,
        "trigger": {"alert-type": "basic", "risk": 8},
    },
}
MACIE_PATTERN = {
    "source": ["aws.macie"],
    "detail-type": ["Macie Alert"],
    "detail": {"risk-score": [80], "trigger": {"risk": [8]}},
}
# "Content filtering in Amazon EventBridge event patterns": the page's numeric, anything-but
# and complex examples are written against this event (the event of the guide's "Example
# events", as the Event Ruler README that the guide's examples come from shows it).
EC2_RUNNING = {
    "version": "0",
    "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "012345679012",
    "time": "2017-10-02T16:24:49Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
    "detail": {
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.33",
        "instance-id": "i-000000aaaaaa00000",
        "state": "running",
    },
}


def _with(event: dict[str, Any], **detail: Any) -> dict[str, Any]:
    """``event`` with some ``detail`` fields replaced (a value of ``_DROP`` removes one)."""
    changed = copy.deepcopy(event)
    for key, value in detail.items():
        if value is _DROP:
            changed["detail"].pop(key.replace("_", "-"), None)
        else:
            changed["detail"][key.replace("_", "-")] = value
    return changed


_DROP = object()


def _detail(**fields: Any) -> dict[str, Any]:
    return {"detail": {key.replace("_", "-"): value for key, value in fields.items()}}


USER_GUIDE_EXAMPLES = [
    # "Amazon EventBridge event patterns": the instance-termination pattern
    pytest.param(EC2_TERMINATION_PATTERN, EC2_TERMINATED, True, id="ec2-terminated"),
    pytest.param(
        EC2_TERMINATION_PATTERN, _with(EC2_TERMINATED, state="running"), False, id="ec2-running"
    ),
    # "Amazon EventBridge event patterns", "Match values": the array of values is an OR
    pytest.param({"source": ["aws.ec2", "aws.fargate"]}, EC2_TERMINATED, True, id="or-values"),
    pytest.param(
        {"source": ["aws.ec2", "aws.fargate"]},
        {**EC2_TERMINATED, "source": "aws.s3"},
        False,
        id="or-values-none",
    ),
    # "Amazon EventBridge event patterns", "Field matching"
    pytest.param(
        {
            "source": ["aws.autoscaling"],
            "detail-type": ["EC2 Instance Launch Successful"],
            "detail": {"responseElements": [None]},
        },
        AUTOSCALING_LAUNCH,
        True,
        id="field-null",
    ),
    # "Amazon EventBridge event patterns", "Value matching"
    pytest.param(MACIE_PATTERN, MACIE_ALERT, True, id="macie-risk"),
    pytest.param(
        MACIE_PATTERN,
        {**MACIE_ALERT, "detail": {**MACIE_ALERT["detail"], "trigger": {"risk": 7}}},
        False,
        id="macie-other-risk",
    ),
    # "Matching null values and empty strings in Amazon EventBridge event patterns"
    pytest.param(_detail(eventVersion=[""]), AUTOSCALING_LAUNCH, True, id="empty-string"),
    pytest.param(_detail(responseElements=[None]), AUTOSCALING_LAUNCH, True, id="null"),
    # ... "Null values and empty strings are not interchangeable in pattern matching"
    pytest.param(_detail(responseElements=[""]), AUTOSCALING_LAUNCH, False, id="empty-not-null"),
    pytest.param(_detail(eventVersion=[None]), AUTOSCALING_LAUNCH, False, id="null-not-empty"),
    # "Arrays in Amazon EventBridge event patterns": intersection of two arrays
    pytest.param(
        {
            "resources": [
                "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
                "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f",
                "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f",
            ]
        },
        {
            "resources": [
                "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-"
                "b893-d5978ed4a025:autoScalingGroupName/ASGTerminate",
                "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
            ]
        },
        True,
        id="arrays-intersect",
    ),
    pytest.param(
        {"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]},
        {"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-00000000"]},
        False,
        id="arrays-disjoint",
    ),
    # "Content filtering ...", "Prefix matching"
    pytest.param({"time": [{"prefix": "2017-10-02"}]}, EC2_RUNNING, True, id="prefix"),
    pytest.param(
        {"time": [{"prefix": "2017-10-02"}]},
        {**EC2_RUNNING, "time": "2017-10-03T18:43:48Z"},
        False,
        id="prefix-other-day",
    ),
    pytest.param(
        {"source": ["aws.autoscaling"], "region": [{"prefix": "eu-"}]},
        {"source": "aws.autoscaling", "region": "eu-west-1"},
        True,
        id="prefix-eu-regions",
    ),
    pytest.param(
        {"source": ["aws.autoscaling"], "region": [{"prefix": "eu-"}]},
        {"source": "aws.autoscaling", "region": "us-east-1"},
        False,
        id="prefix-not-eu",
    ),
    # "Comparison operators ...": "Begins with (ignore case)"
    pytest.param(
        {"service": [{"prefix": {"equals-ignore-case": "eventb"}}]},
        {"service": "EventBridge"},
        True,
        id="prefix-ignore-case",
    ),
    pytest.param(
        {"service": [{"prefix": {"equals-ignore-case": "eventb"}}]},
        {"service": "SQS"},
        False,
        id="prefix-ignore-case-other",
    ),
    # "Comparison operators ...": "Ends with" and "Ends with (ignore case)"
    pytest.param({"FileName": [{"suffix": ".png"}]}, {"FileName": "a/b.png"}, True, id="suffix"),
    pytest.param(
        {"FileName": [{"suffix": ".png"}]}, {"FileName": "b.PNG"}, False, id="suffix-case"
    ),
    pytest.param(
        {"service": [{"suffix": {"equals-ignore-case": "tbridge"}}]},
        {"service": "EVENTBRIDGE"},
        True,
        id="suffix-ignore-case",
    ),
    pytest.param(
        {"service": [{"suffix": {"equals-ignore-case": "tbridge"}}]},
        {"service": "bridges"},
        False,
        id="suffix-ignore-case-other",
    ),
    # "Comparison operators ...": "Equals (ignore case)"
    pytest.param(
        {"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "ALICE"}, True, id="ignore-case"
    ),
    pytest.param(
        {"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "Alicia"}, False, id="ignore-case-no"
    ),
    # "Comparison operators ...": Null, Empty, Equals, And, Or, Not, Numeric, Exists
    pytest.param({"UserID": [None]}, {"UserID": None}, True, id="op-null"),
    pytest.param({"UserID": [None]}, {"UserID": "u-1"}, False, id="op-null-no"),
    pytest.param({"LastName": [""]}, {"LastName": ""}, True, id="op-empty"),
    pytest.param({"LastName": [""]}, {"LastName": "Doe"}, False, id="op-empty-no"),
    pytest.param({"Name": ["Alice"]}, {"Name": "Alice"}, True, id="op-equals"),
    pytest.param({"Name": ["Alice"]}, {"Name": "alice"}, False, id="op-equals-case"),
    pytest.param(
        {"Location": ["New York"], "Day": ["Monday"]},
        {"Location": "New York", "Day": "Monday"},
        True,
        id="op-and",
    ),
    pytest.param(
        {"Location": ["New York"], "Day": ["Monday"]},
        {"Location": "New York", "Day": "Tuesday"},
        False,
        id="op-and-half",
    ),
    pytest.param({"PaymentType": ["Credit", "Debit"]}, {"PaymentType": "Debit"}, True, id="op-or"),
    pytest.param(
        {"PaymentType": ["Credit", "Debit"]}, {"PaymentType": "Cash"}, False, id="op-or-none"
    ),
    pytest.param(
        {"Weather": [{"anything-but": ["Raining"]}]}, {"Weather": "Sunny"}, True, id="op-not"
    ),
    pytest.param(
        {"Weather": [{"anything-but": ["Raining"]}]}, {"Weather": "Raining"}, False, id="op-not-no"
    ),
    pytest.param({"Price": [{"numeric": ["=", 100]}]}, {"Price": 100}, True, id="op-numeric-eq"),
    pytest.param({"Price": [{"numeric": ["=", 100]}]}, {"Price": 101}, False, id="op-numeric-ne"),
    pytest.param(
        {"Price": [{"numeric": [">", 10, "<=", 20]}]}, {"Price": 20}, True, id="op-range-top"
    ),
    pytest.param(
        {"Price": [{"numeric": [">", 10, "<=", 20]}]}, {"Price": 10}, False, id="op-range-bottom"
    ),
    pytest.param({"ProductName": [{"exists": True}]}, {"ProductName": "x"}, True, id="op-exists"),
    pytest.param({"ProductName": [{"exists": True}]}, {"Other": "x"}, False, id="op-exists-no"),
    pytest.param({"ProductName": [{"exists": False}]}, {"Other": "x"}, True, id="op-absent"),
    pytest.param(
        {"ProductName": [{"exists": False}]}, {"ProductName": "x"}, False, id="op-absent-no"
    ),
    pytest.param({"Region": [{"prefix": "us-"}]}, {"Region": "us-east-1"}, True, id="op-begins"),
    pytest.param(
        {"Region": [{"prefix": "us-"}]}, {"Region": "eu-west-1"}, False, id="op-begins-no"
    ),
    # "Content filtering ...", "Anything-but matching"
    pytest.param(
        _detail(state=[{"anything-but": "initializing"}]), EC2_RUNNING, True, id="but-string"
    ),
    pytest.param(
        _detail(state=[{"anything-but": "initializing"}]),
        _with(EC2_RUNNING, state="initializing"),
        False,
        id="but-string-no",
    ),
    pytest.param(_detail(x_limit=[{"anything-but": 123}]), EC2_RUNNING, True, id="but-number"),
    pytest.param(
        _detail(x_limit=[{"anything-but": 123}]),
        _with(EC2_RUNNING, x_limit=123),
        False,
        id="but-number-no",
    ),
    pytest.param(
        _detail(state=[{"anything-but": ["stopped", "overloaded"]}]),
        EC2_RUNNING,
        True,
        id="but-strings",
    ),
    pytest.param(
        _detail(state=[{"anything-but": ["stopped", "overloaded"]}]),
        _with(EC2_RUNNING, state="overloaded"),
        False,
        id="but-strings-no",
    ),
    pytest.param(
        _detail(x_limit=[{"anything-but": [100, 200, 300]}]), EC2_RUNNING, True, id="but-numbers"
    ),
    pytest.param(
        _detail(x_limit=[{"anything-but": [100, 200, 300]}]),
        _with(EC2_RUNNING, x_limit=200),
        False,
        id="but-numbers-no",
    ),
    pytest.param(
        _detail(state=[{"anything-but": {"prefix": "init"}}]), EC2_RUNNING, True, id="but-prefix"
    ),
    pytest.param(
        _detail(state=[{"anything-but": {"prefix": "init"}}]),
        _with(EC2_RUNNING, state="initializing"),
        False,
        id="but-prefix-no",
    ),
    pytest.param(
        {"detail-type": [{"anything-but": "AWS API Call via CloudTrail"}]},
        EC2_RUNNING,
        True,
        id="but-cloudtrail",
    ),
    pytest.param(
        {"detail-type": [{"anything-but": "AWS API Call via CloudTrail"}]},
        {"detail-type": "AWS API Call via CloudTrail"},
        False,
        id="but-cloudtrail-no",
    ),
    pytest.param(
        {"source": [{"anything-but": ["aws.ec2", "aws.s3"]}]},
        {"source": "aws.sqs"},
        True,
        id="but-sources",
    ),
    pytest.param(
        {"source": [{"anything-but": ["aws.ec2", "aws.s3"]}]},
        {"source": "aws.s3"},
        False,
        id="but-sources-no",
    ),
    pytest.param(
        {"source": [{"anything-but": {"prefix": "aws."}}]},
        {"source": "dpc.trigger-manager"},
        True,
        id="but-own-events",
    ),
    pytest.param(
        {"source": [{"anything-but": {"prefix": "aws."}}]},
        {"source": "aws.states"},
        False,
        id="but-own-events-no",
    ),
    # "Comparison operators ...": anything-but ends with / ignore case / wildcard
    pytest.param(
        {"FileName": [{"anything-but": {"suffix": ".png"}}]},
        {"FileName": "a.jpg"},
        True,
        id="but-suffix",
    ),
    pytest.param(
        {"FileName": [{"anything-but": {"suffix": ".png"}}]},
        {"FileName": "a.png"},
        False,
        id="but-suffix-no",
    ),
    pytest.param(
        {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]},
        {"state": "running"},
        True,
        id="but-ignore-case",
    ),
    pytest.param(
        {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]},
        {"state": "INITIALIZING"},
        False,
        id="but-ignore-case-no",
    ),
    pytest.param(
        {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]},
        {"FilePath": "/usr/bin/tool"},
        True,
        id="but-wildcard",
    ),
    pytest.param(
        {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]},
        {"FilePath": "/usr/lib/tool"},
        False,
        id="but-wildcard-no",
    ),
    # "Content filtering ...", "Numeric matching": only true when every field is
    pytest.param(
        _detail(
            c_count=[{"numeric": [">", 0, "<=", 5]}],
            d_count=[{"numeric": ["<", 10]}],
            x_limit=[{"numeric": ["=", 3.018e2]}],
        ),
        EC2_RUNNING,
        True,
        id="numeric",
    ),
    pytest.param(
        _detail(
            c_count=[{"numeric": [">", 0, "<=", 5]}],
            d_count=[{"numeric": ["<", 10]}],
            x_limit=[{"numeric": ["=", 3.018e2]}],
        ),
        _with(EC2_RUNNING, c_count=6),
        False,
        id="numeric-one-out",
    ),
    # "Content filtering ...", "IP address matching" (IPv4 and IPv6)
    pytest.param(
        _detail(sourceIPAddress=[{"cidr": "10.0.0.0/24"}]),
        _detail(sourceIPAddress="10.0.0.255"),
        True,
        id="cidr-v4",
    ),
    pytest.param(
        _detail(sourceIPAddress=[{"cidr": "10.0.0.0/24"}]),
        _detail(sourceIPAddress="10.0.1.0"),
        False,
        id="cidr-v4-outside",
    ),
    pytest.param(
        _detail(sourceIPAddress=[{"cidr": "2001:db8::/32"}]),
        _detail(sourceIPAddress="2001:db8:ffff::1"),
        True,
        id="cidr-v6",
    ),
    pytest.param(
        _detail(sourceIPAddress=[{"cidr": "2001:db8::/32"}]),
        _detail(sourceIPAddress="2001:db9::1"),
        False,
        id="cidr-v6-outside",
    ),
    # "Content filtering ...", "Exists matching": only on leaf nodes
    pytest.param(_detail(state=[{"exists": True}]), EC2_RUNNING, True, id="exists"),
    pytest.param(
        _detail(state=[{"exists": True}]),
        {"detail": {"c-count": {"c1": 100}}},
        False,
        id="exists-missing",
    ),
    pytest.param(
        _detail(c_count=[{"exists": False}]),
        {"detail": {"state": ["initializing", "running"]}},
        True,
        id="absent",
    ),
    pytest.param(
        _detail(c_count=[{"exists": False}]),
        {"detail": {"state": ["initializing", "running"], "c-count": {"c1": 100}}},
        True,
        id="absent-because-not-a-leaf",
    ),
    pytest.param(_detail(c_count=[{"exists": False}]), EC2_RUNNING, False, id="absent-no"),
    pytest.param(
        _detail(description=[{"exists": True}]),
        _detail(description="full text"),
        True,
        id="exists-description",
    ),
    # "Content filtering ...", "Complex example with multiple matching"
    pytest.param(
        {
            "time": [{"prefix": "2017-10-02"}],
            "detail": {
                "state": [{"anything-but": "initializing"}],
                "c-count": [{"numeric": [">", 0, "<=", 5]}],
                "d-count": [{"numeric": ["<", 10]}],
                "x-limit": [{"anything-but": [100, 200, 300]}],
                "source-ip": [{"cidr": "10.0.0.0/8"}],
            },
        },
        EC2_RUNNING,
        True,
        id="complex",
    ),
    pytest.param(
        {
            "time": [{"prefix": "2017-10-02"}],
            "detail": {
                "state": [{"anything-but": "initializing"}],
                "c-count": [{"numeric": [">", 0, "<=", 5]}],
                "d-count": [{"numeric": ["<", 10]}],
                "x-limit": [{"anything-but": [100, 200, 300]}],
            },
        },
        _with(EC2_RUNNING, x_limit=300),
        False,
        id="complex-excluded-limit",
    ),
    # "Content filtering ...", "$or matching": metricName OR namespace, AND source
    pytest.param(
        {
            "source": ["aws.cloudwatch"],
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency"]},
                {"namespace": ["AWS/EC2", "AWS/ES"]},
            ],
        },
        {"source": "aws.cloudwatch", "namespace": "AWS/ES"},
        True,
        id="or",
    ),
    pytest.param(
        {
            "source": ["aws.cloudwatch"],
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency"]},
                {"namespace": ["AWS/EC2", "AWS/ES"]},
            ],
        },
        {"source": "aws.cloudwatch", "namespace": "AWS/S3", "metricName": "Latency"},
        False,
        id="or-none",
    ),
    pytest.param(
        {
            "detail": {
                "$or": [
                    {"c-count": [{"numeric": [">", 0, "<=", 5]}]},
                    {"d-count": [{"numeric": ["<", 10]}]},
                    {"x-limit": [{"numeric": ["=", 3.018e2]}]},
                ]
            }
        },
        _detail(c_count=50, d_count=50, x_limit=301.8),
        True,
        id="or-in-detail",
    ),
    pytest.param(
        {
            "detail": {
                "$or": [
                    {"c-count": [{"numeric": [">", 0, "<=", 5]}]},
                    {"d-count": [{"numeric": ["<", 10]}]},
                    {"x-limit": [{"numeric": ["=", 3.018e2]}]},
                ]
            }
        },
        _detail(c_count=50, d_count=50, x_limit=300),
        False,
        id="or-in-detail-none",
    ),
    # "Best practices when defining Amazon EventBridge event patterns": $or of source+eventName
    pytest.param(
        {
            "detail-type": ["AWS API Call via CloudTrail"],
            "$or": [
                {
                    "source": ["aws.sqs"],
                    "detail": {"eventName": ["CreateQueue", "SetQueueAttributes"]},
                },
                {
                    "source": ["aws.kms"],
                    "detail": {"eventName": ["CreateKey", "DisableKeyRotation"]},
                },
            ],
        },
        {
            "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.kms",
            "detail": {"eventName": "DisableKeyRotation"},
        },
        True,
        id="best-practice-or",
    ),
    pytest.param(
        {
            "detail-type": ["AWS API Call via CloudTrail"],
            "$or": [
                {
                    "source": ["aws.sqs"],
                    "detail": {"eventName": ["CreateQueue", "SetQueueAttributes"]},
                },
                {
                    "source": ["aws.kms"],
                    "detail": {"eventName": ["CreateKey", "DisableKeyRotation"]},
                },
            ],
        },
        {
            "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.kms",
            "detail": {"eventName": "CreateQueue"},
        },
        False,
        id="best-practice-or-crossed",
    ),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), USER_GUIDE_EXAMPLES)
def test_user_guide_examples(pattern, event, expected):
    assert matches(pattern, event) is expected


def test_a_key_given_twice_counts_by_its_last_value():
    # "Content filtering ...": "if you include a key more than once the last reference will be
    # the one used" (JSON decoding keeps the last, as EventBridge does)
    pattern = json.loads(
        '{"detail": {"location": [{"prefix": "us-"}], "location": [{"anything-but": "us-east"}]}}'
    )
    assert matches(pattern, {"detail": {"location": "eu-west"}})
    assert not matches(pattern, {"detail": {"location": "us-east"}})


# --- semantics beyond the guide's examples (Event Ruler, the matcher EventBridge runs) ---

EMPLOYEES = {
    "employees": [
        {"firstName": "John", "lastName": "Doe"},
        {"firstName": "Anna", "lastName": "Smith"},
        {"firstName": "Peter", "lastName": "Jones"},
    ]
}

SEMANTICS = [
    # arrays of objects are flattened: a field under the array matches any element's value
    pytest.param({"employees": {"firstName": ["Anna"]}}, EMPLOYEES, True, id="array-of-objects"),
    pytest.param(
        {"employees": {"firstName": ["Mary"]}}, EMPLOYEES, False, id="array-of-objects-no"
    ),
    pytest.param(
        {"employees": {"firstName": ["Anna"]}},
        {"employees": [[{"firstName": "John"}], [{"firstName": "Anna"}]]},
        True,
        id="nested-arrays-of-objects",
    ),
    # ... and each leaf is matched on its own, so two fields may match in different elements
    pytest.param(
        {"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}},
        EMPLOYEES,
        True,
        id="flattened-across-elements",
    ),
    # a key containing dots: Ruler joins paths with dots, so the literal key and the nesting
    # are the same field
    pytest.param(
        {"detail": {"state.status": ["running"]}},
        {"detail": {"state.status": "running"}},
        True,
        id="dotted-key-literal",
    ),
    pytest.param(
        {"detail": {"state.status": ["running"]}},
        {"detail": {"state": {"status": "running"}}},
        True,
        id="dotted-key-nested-event",
    ),
    pytest.param(
        {"detail": {"state": {"status": ["running"]}}},
        {"detail": {"state.status": "running"}},
        True,
        id="nested-pattern-dotted-event",
    ),
    pytest.param(
        {"detail": {"state.status": ["running"]}},
        {"detail": {"state.status": "stopped"}},
        False,
        id="dotted-key-other-value",
    ),
    # anything-but is tested value by value: an array with one other value matches
    pytest.param(
        {"tags": [{"anything-but": "x"}]}, {"tags": ["x", "y"]}, True, id="but-array-one-other"
    ),
    pytest.param({"tags": [{"anything-but": "x"}]}, {"tags": ["x"]}, False, id="but-array-only"),
    pytest.param({"tags": [{"anything-but": "x"}]}, {"tags": []}, False, id="but-empty-array"),
    pytest.param({"tags": [{"anything-but": "x"}]}, {"other": 1}, False, id="but-missing"),
    pytest.param({"n": [{"anything-but": "5"}]}, {"n": 5}, True, id="but-string-vs-number"),
    pytest.param({"n": [{"anything-but": {"prefix": "a"}}]}, {"n": None}, True, id="but-null"),
    # exists looks at leaves: an empty array or an empty object has none
    pytest.param({"tags": [{"exists": False}]}, {"tags": []}, True, id="absent-empty-array"),
    pytest.param({"tags": [{"exists": True}]}, {"tags": []}, False, id="exists-empty-array"),
    pytest.param({"tags": [{"exists": False}]}, {"tags": {}}, True, id="absent-empty-object"),
    pytest.param({"tags": [{"exists": True}]}, {"tags": None}, True, id="exists-null"),
    pytest.param({"tags": [{"exists": True}]}, {"tags": [{"a": 1}]}, False, id="exists-objects"),
    pytest.param({"tags": [{"exists": True}]}, {"tags": ["a", {"b": 1}]}, True, id="exists-mixed"),
    pytest.param(
        {"tags": [{"exists": False}, "x"]}, {"tags": "x"}, True, id="absent-or-value-present"
    ),
    pytest.param({"tags": [{"exists": False}, "x"]}, {}, True, id="absent-or-value-missing"),
    pytest.param(
        {"employees": {"middleName": [{"exists": False}]}}, EMPLOYEES, True, id="absent-in-array"
    ),
    # an exact number matches its JSON text ("Considerations when creating event patterns":
    # 300, 300.0 and 3.0e2 are not considered equal), booleans only themselves, strings
    # are not numbers
    pytest.param({"n": [300]}, {"n": 3.0e2}, False, id="number-as-text"),
    pytest.param({"n": [3.0e2]}, {"n": 300}, False, id="number-as-text-reverse"),
    pytest.param({"n": [300.0]}, {"n": 3.0e2}, True, id="same-number-text"),
    pytest.param({"n": [{"numeric": ["=", 300]}]}, {"n": 3.0e2}, True, id="numeric-by-value"),
    pytest.param({"n": [300]}, {"n": "300"}, False, id="number-not-string"),
    pytest.param({"n": [123456789012]}, {"n": 123456789012}, True, id="account-number"),
    pytest.param({"n": [1]}, {"n": True}, False, id="number-not-bool"),
    pytest.param({"n": [True]}, {"n": 1}, False, id="bool-not-number"),
    pytest.param({"n": [False]}, {"n": False}, True, id="bool"),
    pytest.param({"n": [{"numeric": [">", 0]}]}, {"n": "5"}, False, id="numeric-not-string"),
    pytest.param({"n": [{"numeric": [">", 0]}]}, {"n": [-1, 2]}, True, id="numeric-any-element"),
    pytest.param({"n": [{"numeric": [">=", 5, "<", 6]}]}, {"n": 5}, True, id="numeric-ge"),
    pytest.param({"n": [{"numeric": [">=", 5, "<", 6]}]}, {"n": 6}, False, id="numeric-lt"),
    pytest.param({"n": [{"numeric": ["<=", -1]}]}, {"n": -1.0}, True, id="numeric-le"),
    # numeric matching is limited to -5e9..5e9 (Ruler's ComparableNumber)
    pytest.param({"n": [{"numeric": [">", 0]}]}, {"n": 6e9}, False, id="numeric-out-of-range"),
    # operators on strings never match other types
    pytest.param({"s": [{"prefix": "1"}]}, {"s": 12}, False, id="prefix-not-number"),
    pytest.param({"s": [{"equals-ignore-case": "true"}]}, {"s": True}, False, id="ic-not-bool"),
    pytest.param({"s": [{"wildcard": "*"}]}, {"s": None}, False, id="wildcard-not-null"),
    pytest.param({"s": [{"cidr": "10.0.0.0/8"}]}, {"s": "not-an-ip"}, False, id="cidr-not-ip"),
    # cidr: the range runs from the given address to the top of its mask
    pytest.param({"s": [{"cidr": "10.0.0.5/24"}]}, {"s": "10.0.0.4"}, False, id="cidr-from-base"),
    pytest.param({"s": [{"cidr": "10.0.0.0/24"}]}, {"s": "::a00:1"}, False, id="cidr-v4-not-v6"),
    # wildcard: `*` is any run of characters, `\*` a star, `\\` a backslash
    pytest.param({"s": [{"wildcard": "dir/*.png"}]}, {"s": "dir/a/b.png"}, True, id="wildcard"),
    pytest.param({"s": [{"wildcard": "dir/*.png"}]}, {"s": "dir/a.jpg"}, False, id="wildcard-no"),
    pytest.param({"s": [{"wildcard": "a*b*c"}]}, {"s": "abc"}, True, id="wildcard-empty-runs"),
    pytest.param({"s": [{"wildcard": r"a\*"}]}, {"s": "a*"}, True, id="wildcard-escaped-star"),
    pytest.param({"s": [{"wildcard": r"a\*"}]}, {"s": "ab"}, False, id="wildcard-star-literal"),
    pytest.param({"s": [{"wildcard": "a\\\\*"}]}, {"s": "a\\bc"}, True, id="wildcard-backslash"),
    pytest.param({"s": [{"wildcard": "a.c"}]}, {"s": "abc"}, False, id="wildcard-dot-literal"),
    pytest.param(
        {"s": [{"anything-but": {"wildcard": ["*/lib/*", "*/bin/*"]}}]},
        {"s": "/usr/bin/x"},
        False,
        id="but-wildcard-list",
    ),
    pytest.param(
        {"s": [{"anything-but": {"prefix": ["us-", "eu-"]}}]},
        {"s": "ap-south-1"},
        True,
        id="but-prefix-list",
    ),
    pytest.param(
        {"s": [{"anything-but": {"prefix": ["us-", "eu-"]}}]},
        {"s": "eu-west-1"},
        False,
        id="but-prefix-list-no",
    ),
    # $or at any depth, nested in another $or
    pytest.param(
        {
            "source": ["aws.cloudwatch"],
            "$or": [
                {"metricName": ["CPUUtilization"]},
                {
                    "namespace": ["AWS/EC2"],
                    "$or": [{"metricId": [1234]}, {"spaceId": [1000]}],
                },
            ],
        },
        {"source": "aws.cloudwatch", "namespace": "AWS/EC2", "spaceId": 1000},
        True,
        id="nested-or",
    ),
    pytest.param(
        {
            "source": ["aws.cloudwatch"],
            "$or": [
                {"metricName": ["CPUUtilization"]},
                {
                    "namespace": ["AWS/EC2"],
                    "$or": [{"metricId": [1234]}, {"spaceId": [1000]}],
                },
            ],
        },
        {"source": "aws.cloudwatch", "namespace": "AWS/EC2", "spaceId": 1001},
        False,
        id="nested-or-none",
    ),
    pytest.param(
        {
            "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
            "detail": {"$or": [{"source": ["aws.cloudwatch"]}, {"detail-type": ["Alarm"]}]},
        },
        {"namespace": "AWS/EC2", "detail": {"detail-type": "Alarm"}},
        True,
        id="parallel-or",
    ),
    pytest.param(
        {
            "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
            "detail": {"$or": [{"source": ["aws.cloudwatch"]}, {"detail-type": ["Alarm"]}]},
        },
        {"namespace": "AWS/EC2", "detail": {"detail-type": "Other"}},
        False,
        id="parallel-or-half",
    ),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), SEMANTICS)
def test_semantics(pattern, event, expected):
    assert matches(pattern, event) is expected


def test_a_field_of_dpc_trigger_causes_matches_any_cause(trigger):
    assert matches({"detail": {"causes": {"pipeline": ["searches"]}}}, trigger)
    assert not matches({"detail": {"causes": {"pipeline": ["orders"]}}}, trigger)


# --- patterns EventBridge refuses, with the reason it gives ---

INVALID = [
    pytest.param("not an object", "Filter is not an object", id="not-object"),
    pytest.param({}, "Empty objects are not allowed", id="empty-pattern"),
    pytest.param({"detail": {}}, "Empty objects are not allowed", id="empty-object"),
    pytest.param({"source": "aws.ec2"}, '"source" must be an object or an array', id="scalar"),
    pytest.param({"source": []}, "Empty arrays are not allowed", id="empty-array"),
    pytest.param(
        {"source": [["aws.ec2"]]},
        "Match value must be String, number, true, false, or null",
        id="nested-array",
    ),
    pytest.param({"s": [{}]}, "Match expression name not found", id="empty-filter"),
    pytest.param(
        {"s": [{"prefix": "a", "suffix": "b"}]},
        "Only one key allowed in match expression",
        id="two-operators",
    ),
    pytest.param({"s": [{"regex": "a+"}]}, "Unrecognized match type regex", id="unknown-op"),
    pytest.param({"s": [{"prefix": 5}]}, "prefix match pattern must be a string", id="prefix-5"),
    pytest.param(
        {"s": [{"prefix": ["a", "b"]}]}, "prefix match pattern must be a string", id="prefix-list"
    ),
    pytest.param(
        {"s": [{"prefix": {"wildcard": "a*"}}]},
        "Unsupported prefix pattern: wildcard",
        id="prefix-op",
    ),
    pytest.param(
        {"s": [{"prefix": {"equals-ignore-case": 1}}]},
        "equals-ignore-case match pattern must be a string",
        id="prefix-ignore-case-number",
    ),
    pytest.param({"s": [{"suffix": None}]}, "suffix match pattern must be a string", id="suffix"),
    pytest.param(
        {"s": [{"suffix": {"prefix": "a"}}]}, "Unsupported suffix pattern: prefix", id="suffix-op"
    ),
    pytest.param(
        {"s": [{"equals-ignore-case": ["a"]}]},
        "equals-ignore-case match pattern must be a string",
        id="ignore-case-list",
    ),
    pytest.param(
        {"s": [{"wildcard": 7}]}, "wildcard match pattern must be a string", id="wildcard-number"
    ),
    pytest.param(
        {"s": [{"wildcard": "a**b"}]}, "Consecutive wildcard characters at pos 2", id="wildcard-**"
    ),
    pytest.param(
        {"s": [{"wildcard": r"a\b"}]}, "Invalid escape character at pos 2", id="wildcard-escape"
    ),
    pytest.param(
        {"s": [{"wildcard": "a\\"}]}, "Invalid escape character at pos 2", id="wildcard-trailing"
    ),
    pytest.param(
        {"s": [{"exists": "yes"}]},
        "exists match pattern must be either true or false.",
        id="exists-string",
    ),
    pytest.param(
        {"s": [{"numeric": 5}]}, "Value of numeric must be an array.", id="numeric-scalar"
    ),
    pytest.param({"s": [{"numeric": [">"]}]}, "Value of > must be numeric", id="numeric-no-value"),
    pytest.param(
        {"s": [{"numeric": [5, ">"]}]}, "Invalid member in numeric match: 5", id="numeric-order"
    ),
    pytest.param(
        {"s": [{"numeric": ["!=", 5]}]},
        "Unrecognized numeric range operator: !=",
        id="numeric-operator",
    ),
    pytest.param(
        {"s": [{"numeric": [">", True]}]}, "Value of > must be numeric", id="numeric-bool"
    ),
    pytest.param(
        {"s": [{"numeric": ["=", 1, "<", 2]}]},
        "Too many elements in numeric expression",
        id="numeric-eq-range",
    ),
    pytest.param(
        {"s": [{"numeric": ["<", 10, ">", 0]}]},
        "Too many elements in numeric expression",
        id="numeric-upper-first",
    ),
    pytest.param(
        {"s": [{"numeric": [">", 0, ">", 5]}]},
        "Bad numeric range operator: >",
        id="numeric-two-lows",
    ),
    pytest.param(
        {"s": [{"numeric": [">", 0, "<", 5, "<", 6]}]},
        "Too many terms in numeric range expression",
        id="numeric-too-long",
    ),
    pytest.param(
        {"s": [{"numeric": [">", 6e9]}]},
        "Value must be between -5000000000 and 5000000000, inclusive",
        id="numeric-range",
    ),
    pytest.param(
        {"s": [{"numeric": ["=", 0.1234567]}]},
        "Only values upto 6 decimals are supported",
        id="numeric-decimals",
    ),
    pytest.param(
        {"s": [{"anything-but": []}]},
        "Inside anything but list, either all values are number or string, "
        "mixed type is not supported",
        id="anything-but-empty",
    ),
    pytest.param(
        {"s": [{"anything-but": ["a", 1]}]},
        "Inside anything but list, either all values are number or string, "
        "mixed type is not supported",
        id="anything-but-mixed",
    ),
    pytest.param(
        {"s": [{"anything-but": [None]}]},
        "Inside anything but list, start|null|boolean is not supported.",
        id="anything-but-null-in-list",
    ),
    # Ruler compares anything-but numbers in its numeric form, so an account number, unlike
    # an exact match on one, is refused
    pytest.param(
        {"s": [{"anything-but": 123456789012}]},
        "Value must be between -5000000000 and 5000000000, inclusive",
        id="anything-but-account-number",
    ),
    pytest.param(
        {"s": [{"anything-but": True}]},
        "Value of anything-but must be an array or single string/number value.",
        id="anything-but-bool",
    ),
    pytest.param(
        {"s": [{"anything-but": {"numeric": [">", 1]}}]},
        "Unsupported anything-but pattern: numeric",
        id="anything-but-numeric",
    ),
    pytest.param(
        {"s": [{"anything-but": {}}]},
        "Anything-But expression name not found",
        id="anything-but-empty-object",
    ),
    pytest.param(
        {"s": [{"anything-but": {"prefix": ""}}]},
        "Null prefix/suffix not allowed",
        id="anything-but-empty-prefix",
    ),
    pytest.param(
        {"s": [{"anything-but": {"suffix": [5]}}]},
        "prefix/suffix match pattern must be a string",
        id="anything-but-suffix-number",
    ),
    pytest.param(
        {"s": [{"anything-but": {"wildcard": ["a**"]}}]},
        "Consecutive wildcard characters at pos 2",
        id="anything-but-wildcard-**",
    ),
    pytest.param(
        {"s": [{"anything-but": {"equals-ignore-case": 3}}]},
        "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.",
        id="anything-but-ignore-case-number",
    ),
    pytest.param({"s": [{"cidr": 10}]}, "cidr match pattern must be a string", id="cidr-number"),
    pytest.param(
        {"s": [{"cidr": "10.0.0.1"}]}, "Malformed CIDR, one '/' required", id="cidr-no-mask"
    ),
    pytest.param(
        {"s": [{"cidr": "10.0.0.0/x"}]},
        "Malformed CIDR, mask bits must be an integer",
        id="cidr-mask-text",
    ),
    pytest.param(
        {"s": [{"cidr": "10.0.0.0/32"}]}, "IPv4 mask bits must be < 32", id="cidr-v4-mask"
    ),
    pytest.param({"s": [{"cidr": "::/128"}]}, "IPv6 mask bits must be < 128", id="cidr-v6-mask"),
    pytest.param(
        {"s": [{"cidr": "10.0.0/8"}]}, "Nonstandard IP address: 10.0.0", id="cidr-bad-address"
    ),
    pytest.param(
        {"s": [{"cidr": "10.0.0.300/8"}]},
        "Invalid IP address: 10.0.0.300",
        id="cidr-invalid-address",
    ),
    pytest.param(
        {"$or": {"source": ["aws.ec2"]}}, "It must be an Array followed with $or.", id="or-object"
    ),
    pytest.param(
        {"$or": [{"source": ["aws.ec2"]}]},
        "There must have at least 2 Objects in $or relationship.",
        id="or-one",
    ),
    pytest.param(
        {"$or": [{"source": ["aws.ec2"]}, "aws.s3"]},
        "Only JSON object is allowed in array of $or relationship.",
        id="or-scalar",
    ),
    pytest.param(
        {"$or": [{"numeric": [123]}, {"prefix": ["abc"]}]},
        "numeric is Ruler reserved fieldName which cannot be used inside $or.",
        id="or-reserved-name",
    ),
    pytest.param(
        {"$or": [{"source": ["a"]}, {"detail": {}}]},
        "Empty objects are not allowed",
        id="or-empty-branch",
    ),
]


@pytest.mark.parametrize(("pattern", "reason"), INVALID)
def test_patterns_eventbridge_refuses(pattern, reason, status_change):
    with pytest.raises(InvalidPatternError) as refused:
        matches(pattern, status_change)
    assert str(refused.value).startswith(f"Event pattern is not valid. Reason: {reason}")


def test_a_refusal_names_where_the_pattern_is_wrong(status_change):
    with pytest.raises(InvalidPatternError, match=r"at detail\.stateMachineArn"):
        matches({"detail": {"stateMachineArn": [{"prefix": 5}]}}, status_change)


def test_a_pattern_is_refused_even_where_the_event_would_not_reach(status_change):
    # EventBridge refuses the rule itself, whatever the event: an invalid filter on a field
    # the event lacks, or behind a field that already failed, is still refused
    with pytest.raises(InvalidPatternError):
        matches({"detail": {"missing": [{"prefix": 5}]}}, status_change)
    with pytest.raises(InvalidPatternError):
        matches({"source": ["other"], "detail": {"status": [{"numeric": [">"]}]}}, status_change)


def test_validate_refuses_without_an_event():
    validate(EC2_TERMINATION_PATTERN)
    with pytest.raises(InvalidPatternError, match="Empty arrays are not allowed"):
        validate({"detail": {"state": []}})
