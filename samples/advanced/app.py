"""An advanced user's own CDK app built from dpc's constructs.

It reads the pipeline from pipeline.yaml like `dpc deploy` does, adds a step type dpc does
not have (Hive, through EMR's command-runner), and synthesizes with the same synthesizer,
cdk-nag checks and deploy path (`python samples/advanced/app.py OUT` then deploy the
assembly with dpc.infra.deploy, or `cdk deploy --app "python app.py"` if you bootstrap).

The custom step gets what every dpc step gets: its script shipped as an asset, ordering,
and a Catch that terminates the cluster and fails the run.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from dpc.infra.app import Synthesis, new_app, synthesize
from dpc.infra.pipeline import DEFAULT_STEP_TASKS, PipelineStack, emr_step
from dpc.spec.loader import load_pipeline
from dpc.spec.model import Step

if TYPE_CHECKING:  # dpc.infra silences jsii's warnings: import aws_cdk after it
    from aws_cdk import aws_stepfunctions as sfn
    from constructs import Construct

HERE = Path(__file__).resolve().parent


def hive_step(scope: Construct, step: Step, cluster_id: str, script_url: str) -> sfn.TaskStateBase:
    """Runs a HiveQL file with EMR's command-runner."""
    return emr_step(
        scope,
        step,
        cluster_id,
        "command-runner.jar",
        ["hive-script", "--run-hive-script", "--args", "-f", script_url, *step.args],
    )


def build(outdir: Path) -> Synthesis:
    pipeline = load_pipeline(HERE)
    publish = Step("publish", "hive", "queries/publish.hql")  # type: ignore[arg-type]
    pipeline = replace(pipeline, steps=(*pipeline.steps, publish))
    app = new_app(outdir)
    PipelineStack(app, pipeline=pipeline, step_tasks={**DEFAULT_STEP_TASKS, "hive": hive_step})
    return synthesize(app)


if __name__ == "__main__":
    synthesis = build(Path(sys.argv[1] if len(sys.argv) > 1 else "cdk.out"))
    for stack in synthesis.stacks:
        print(stack.template_file)
