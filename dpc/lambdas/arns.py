"""ARNs dpc builds from a region and an account, in the region's partition.

An ARN names its partition (``aws``, ``aws-cn``, ``aws-us-gov``…): a state machine in
Beijing is ``arn:aws-cn:states:cn-north-1:…``, and an ``arn:aws:`` one would not be found.
Templates use ``AWS::Partition``; code that writes ARNs itself (the CLI starting a run, the
deploy service's bucket policy, events dpc emulates) derives it here, from the region's
prefix as AWS assigns them.
"""

from __future__ import annotations

from dpc.constants import STATE_MACHINE_PREFIX

_PARTITIONS = (
    ("cn-", "aws-cn"),
    ("us-gov-", "aws-us-gov"),
    ("us-isob-", "aws-iso-b"),
    ("us-iso-", "aws-iso"),
    ("eu-isoe-", "aws-iso-e"),
    ("us-isof-", "aws-iso-f"),
)


def partition(region: str) -> str:
    """The partition of ``region`` (``aws`` for every commercial region)."""
    return next((name for prefix, name in _PARTITIONS if region.startswith(prefix)), "aws")


def state_machine_arn(region: str, account: str, pipeline: str) -> str:
    """The ARN of dpc's state machine for ``pipeline``."""
    return (
        f"arn:{partition(region)}:states:{region}:{account}:stateMachine:"
        f"{STATE_MACHINE_PREFIX}{pipeline}"
    )


def execution_arn(region: str, account: str, pipeline: str, execution: str) -> str:
    return (
        f"arn:{partition(region)}:states:{region}:{account}:execution:"
        f"{STATE_MACHINE_PREFIX}{pipeline}:{execution}"
    )


def dns_suffix(region: str) -> str:
    """The domain of the region's service endpoints (China's end in amazonaws.com.cn)."""
    return "amazonaws.com.cn" if partition(region) == "aws-cn" else "amazonaws.com"
