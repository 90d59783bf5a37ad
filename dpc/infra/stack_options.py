"""The keyword arguments dpc's stacks pass on to ``aws_cdk.Stack`` (``cdk.StackProps``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import aws_cdk as cdk


class StackOptions(TypedDict, total=False):
    """``cdk.StackProps`` as keyword arguments, for ``**stack_options: Unpack[StackOptions]``."""

    analytics_reporting: bool
    cross_region_references: bool
    description: str
    env: cdk.Environment | dict[str, Any]
    notification_arns: Sequence[str]
    permissions_boundary: cdk.PermissionsBoundary
    property_injectors: Sequence[cdk.IPropertyInjector]
    stack_name: str
    suppress_template_indentation: bool
    synthesizer: cdk.IStackSynthesizer
    tags: Mapping[str, str]
    termination_protection: bool
