"""CDK constructs and stacks for dpc: the only package that imports aws_cdk.

Importing it silences jsii's Node.js version warnings first, so users never see them.
Advanced users build their own CDK app from the constructs here (see samples/advanced).
"""

from __future__ import annotations

import os

for _variable in (
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION",
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION",
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION",
):
    os.environ.setdefault(_variable, "20")
# jsii warns on stderr about deprecated CloudFormation properties the CDK itself touches.
os.environ.setdefault("JSII_DEPRECATED", "quiet")
