"""Synthesis speed of dpc's stacks, beside a bare hand-written CDK app with the same resources.

Prints, each scenario in a fresh Python process (so jsii/Node start-up is counted once,
as a user running `dpc synth` pays it):

- one pipeline: dpc (cdk-nag included) and the bare app (no nag, no dpc), and their ratio;
- 50 pipelines in one process/app: dpc and bare, per-pipeline cost, ratio;
- dpc without cdk-nag, to show what the AwsSolutions checks cost;
- the import guard: `dpc --help` and `dpc validate` must not import aws_cdk/boto3/moto.

Usage: python bench/synth.py [--pipelines 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "case-study" / "pipeline-x"


def _pipelines(count: int):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from dpc.spec.loader import load_pipeline

    base = load_pipeline(SAMPLE)
    return [base if count == 1 else replace(base, name=f"pipeline-{i:03d}") for i in range(count)]


def scenario_dpc(count: int, nag: bool) -> float:
    import dpc.infra  # noqa: F401  (silences jsii before aws_cdk loads)
    from dpc.infra import app as infra_app

    pipelines = _pipelines(count)
    if not nag:
        infra_app.apply_nag = lambda app: None  # type: ignore[assignment]
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        infra_app.synth_pipelines(pipelines, Path(out))
    return time.perf_counter() - began


def scenario_bare(count: int) -> float:
    """The same resources written directly with aws-cdk-lib: a state machine running an EMR
    cluster and two steps with Catch→terminate, its role and log group, the trigger rule on
    the pipeline bus, a custom resource, the SNS topic with an e-mail subscription, the
    tracker Lambda and its log subscription, and the two script assets."""
    import aws_cdk as cdk
    from aws_cdk import aws_events as events
    from aws_cdk import aws_events_targets as targets
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs
    from aws_cdk import aws_logs_destinations as destinations
    from aws_cdk import aws_s3_assets as assets
    from aws_cdk import aws_sns as sns
    from aws_cdk import aws_sns_subscriptions as subs
    from aws_cdk import aws_stepfunctions as sfn
    from aws_cdk import aws_stepfunctions_tasks as tasks

    import dpc.infra  # noqa: F401

    scripts = sorted((SAMPLE / "scripts").glob("*.sh"))
    code = Path(tempfile.mkdtemp())
    (code / "index.py").write_text("def handler(event, context):\n    return {}\n")
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        app = cdk.App(outdir=out, analytics_reporting=False)
        for i in range(count):
            stack = cdk.Stack(app, f"Bare{i}")
            urls = [
                assets.Asset(stack, f"S{n}", path=str(p)).s3_object_url
                for n, p in enumerate(scripts)
            ]
            create = tasks.EmrCreateCluster(
                stack,
                "Create",
                name=f"bare-{i}",
                instances=tasks.EmrCreateCluster.InstancesConfigProperty(
                    ec2_subnet_id=cdk.Fn.import_value("subnet"),
                    instance_groups=[
                        tasks.EmrCreateCluster.InstanceGroupConfigProperty(
                            instance_role=tasks.EmrCreateCluster.InstanceRoleType.MASTER,
                            instance_type="m5.xlarge",
                            instance_count=1,
                        )
                    ],
                ),
                result_path="$.cluster",
            )
            cluster_id = sfn.JsonPath.string_at("$.cluster.ClusterId")
            failed = sfn.Fail(stack, "Failed")
            cleanup = tasks.EmrTerminateCluster(stack, "Cleanup", cluster_id=cluster_id).next(
                failed
            )
            chain: sfn.IChainable = create
            tail: sfn.INextable = create
            for n, url in enumerate(urls):
                step = tasks.EmrAddStep(
                    stack,
                    f"Step{n}",
                    cluster_id=cluster_id,
                    name=f"s{n}",
                    jar="command-runner.jar",
                    args=[url],
                    result_path=sfn.JsonPath.DISCARD,
                )
                step.add_catch(cleanup)
                tail.next(step)
                tail = step
            tail.next(tasks.EmrTerminateCluster(stack, "Terminate", cluster_id=cluster_id))
            log_group = logs.LogGroup(stack, "Logs")
            machine = sfn.StateMachine(
                stack,
                "Machine",
                definition_body=sfn.DefinitionBody.from_chainable(chain),
                logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL),
            )
            events.Rule(
                stack,
                "Trigger",
                event_bus=events.EventBus.from_event_bus_name(stack, "Bus", "dpc-pipeline-bus"),
                event_pattern=events.EventPattern(source=["dpc.trigger-manager"]),
                targets=[targets.SfnStateMachine(machine)],
            )
            cdk.CustomResource(stack, "Registration", service_token=cdk.Fn.import_value("provider"))
            topic = sns.Topic(stack, "Topic")
            topic.add_subscription(subs.EmailSubscription("team@example.com"))
            tracker = lambda_.Function(
                stack,
                "Tracker",
                runtime=lambda_.Runtime.PYTHON_3_12,
                handler="index.handler",
                code=lambda_.Code.from_asset(str(code)),
            )
            logs.SubscriptionFilter(
                stack,
                "Sub",
                log_group=log_group,
                destination=destinations.LambdaDestination(tracker),
                filter_pattern=logs.FilterPattern.all_events(),
            )
        app.synth()
    return time.perf_counter() - began


def scenario_imports() -> dict[str, object]:
    """What `dpc --help` and `dpc validate` import, and how long they take, in-process."""
    from typer.testing import CliRunner

    from dpc.cli.app import app

    began = time.perf_counter()
    runner = CliRunner()
    help_code = runner.invoke(app, ["--help"]).exit_code
    validate_code = runner.invoke(app, ["validate", str(ROOT / "samples" / "case-study")]).exit_code
    heavy = sorted(m for m in ("aws_cdk", "boto3", "moto", "jsii") if m in sys.modules)
    return {
        "seconds": time.perf_counter() - began,
        "exit_codes": [help_code, validate_code],
        "heavy_modules_imported": heavy,
    }


def run_child(name: str, *args: str) -> tuple[float, object]:
    """Run a scenario in a fresh interpreter; returns (wall seconds incl. start-up, result)."""
    env = {
        **os.environ,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "20",
        "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "20",
    }
    began = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, __file__, "--child", name, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    wall = time.perf_counter() - began
    return wall, json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipelines", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario (median kept)")
    parser.add_argument("--child", nargs="+")
    options = parser.parse_args()
    if options.child:
        name, *args = options.child
        if name == "dpc":
            result: object = scenario_dpc(int(args[0]), nag=args[1] == "nag")
        elif name == "bare":
            result = scenario_bare(int(args[0]))
        else:
            result = scenario_imports()
        print(json.dumps(result))
        return

    many = options.pipelines
    rows = []
    for label, child in (
        ("dpc, 1 pipeline", ("dpc", "1", "nag")),
        ("bare CDK, 1 pipeline", ("bare", "1")),
        ("dpc without cdk-nag, 1 pipeline", ("dpc", "1", "no-nag")),
        (f"dpc, {many} pipelines", ("dpc", str(many), "nag")),
        (f"bare CDK, {many} pipelines", ("bare", str(many))),
        (f"dpc without cdk-nag, {many} pipelines", ("dpc", str(many), "no-nag")),
    ):
        runs = sorted(run_child(*child) for _ in range(options.repeat))
        synth_times = sorted(float(r[1]) for r in runs)  # type: ignore[arg-type]
        wall = statistics.median(r[0] for r in runs)
        rows.append((label, statistics.median(synth_times), wall))
    print(
        f"median of {options.repeat} fresh processes per scenario (machine: {os.cpu_count()} CPUs)"
    )
    print(f"{'scenario':<40} {'synth s':>9} {'process s':>10}")
    for label, synth_seconds, wall in rows:
        print(f"{label:<40} {synth_seconds:>9.2f} {wall:>10.2f}")
    one_dpc, one_bare = rows[0][1], rows[1][1]
    many_dpc, many_bare = rows[3][1], rows[4][1]
    print(f"ratio dpc/bare, 1 pipeline: {one_dpc / one_bare:.2f}x")
    print(f"ratio dpc/bare, {many} pipelines: {many_dpc / many_bare:.2f}x")
    print(f"dpc per pipeline at {many}: {many_dpc / many:.3f} s; bare: {many_bare / many:.3f} s")
    print(f"cdk-nag share at {many}: {(many_dpc - rows[5][1]) / many_dpc:.0%} of dpc synth time")
    wall, imports = run_child("imports")
    print(
        f"dpc --help + dpc validate (in-process): {imports['seconds']:.2f} s, "  # type: ignore[index]
        f"exit codes {imports['exit_codes']}, heavy modules imported: "  # type: ignore[index]
        f"{imports['heavy_modules_imported'] or 'none'}"  # type: ignore[index]
    )


if __name__ == "__main__":
    main()
