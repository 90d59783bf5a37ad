"""ARNs dpc writes itself are in the region's partition (issue 12 item 7): a run started in
Beijing or GovCloud names a state machine that exists there."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dpc.lambdas.arns import dns_suffix, partition
from dpc.operate.starts import Target
from dpc.triggers.periods import PeriodSpec


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("eu-west-1", "aws"),
        ("cn-north-1", "aws-cn"),
        ("cn-northwest-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-iso-east-1", "aws-iso"),
        ("us-isob-east-1", "aws-iso-b"),
    ],
)
def test_each_region_is_in_its_partition(region: str, expected: str) -> None:
    assert partition(region) == expected


def test_dpc_run_in_china_starts_the_state_machine_of_the_china_partition() -> None:
    deployed = Target("listings", "111111111111", "cn-north-1", PeriodSpec("day", timedelta(0)))
    assert deployed.state_machine_arn == (
        "arn:aws-cn:states:cn-north-1:111111111111:stateMachine:dpc-listings"
    )
    assert dns_suffix("cn-north-1") == "amazonaws.com.cn"
    assert dns_suffix("us-gov-east-1") == "amazonaws.com"
