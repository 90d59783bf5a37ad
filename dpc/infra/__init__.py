"""CDK constructs and stacks for dpc: the only package that imports aws_cdk.

Importing it silences jsii's Node.js version warnings first, so users never see them.
Advanced users build their own CDK app from the constructs here (see samples/advanced).
"""

from __future__ import annotations

import os


def silence_jsii() -> None:
    """Set (unless the user did) what keeps jsii quiet: its Node.js version warnings, and its
    notes on deprecated CloudFormation properties the CDK itself touches. Must run before the
    jsii runtime starts, i.e. before aws_cdk is first imported."""
    for variable in (
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION",
        "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION",
    ):
        os.environ.setdefault(variable, "20")
    os.environ.setdefault("JSII_DEPRECATED", "quiet")


silence_jsii()
