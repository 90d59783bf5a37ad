"""The status sweeper's cost (issue 11): API calls per account per day for 10 and 1,000
pipelines, each running once a day, on moto Step Functions and EventBridge.

Two sweeps are measured with real calls: a quiet one (no execution changed in its window,
as in 94 of a day's 96 sweeps for a daily pipeline) and a busy one (every pipeline's run
started and ended inside the window). A day is 96 quiet sweeps plus, per run, the busy
sweep's extra calls in each sweep whose window sees the run (LOOK_BACK / SWEEP_RATE of them).
Target: at most about one call per pipeline per sweep.

Usage: python bench/sweep.py [--sizes 10,1000]
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from datetime import UTC, datetime, timedelta

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3
from moto import mock_aws

from dpc.lambdas.status_sweeper import LOOK_BACK, SWEEP_RATE, sweep

SWEEPS_PER_DAY = timedelta(days=1) // SWEEP_RATE
ROLE = "arn:aws:iam::111111111111:role/dpc-pipeline"
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


def measure(pipelines: int) -> dict[str, float]:
    with mock_aws():
        sfn, events = boto3.client("stepfunctions"), boto3.client("events")
        bus = events.create_event_bus(Name="dpc-central-bus")["EventBusArn"]
        for n in range(pipelines):
            arn = sfn.create_state_machine(
                name=f"dpc-pipeline-{n:04d}", definition=DEFINITION, roleArn=ROLE
            )["stateMachineArn"]
            execution = sfn.start_execution(stateMachineArn=arn, name=f"s-{n}", input="{}")
            sfn.stop_execution(executionArn=execution["executionArn"])
        calls = Counter[str]()
        for client in (sfn, events):
            client.meta.events.register(
                "before-call", lambda event_name, **_: calls.update([event_name.split(".")[-1]])
            )
        now = datetime.now(UTC)
        sweep(sfn, events, bus, now + timedelta(days=1))
        quiet = sum(calls.values())
        calls.clear()
        report = sweep(sfn, events, bus, now)
        busy = sum(calls.values())
        by_api = dict(calls)
    assert report.executions == pipelines, "the busy sweep missed a run"
    windows_per_run = LOOK_BACK / SWEEP_RATE
    per_day = SWEEPS_PER_DAY * quiet + (busy - quiet) * windows_per_run
    return {
        "quiet": quiet,
        "busy": busy,
        "per_day": per_day,
        "per_pipeline_sweep": per_day / SWEEPS_PER_DAY / pipelines,
        "by_api": by_api,  # type: ignore[dict-item]
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,1000")
    args = parser.parse_args()
    print(
        f"status sweep: every {SWEEP_RATE.seconds // 60} min ({SWEEPS_PER_DAY} a day), "
        f"look-back {LOOK_BACK.seconds // 60} min, each pipeline running once a day"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        f = measure(size)
        print(
            f"  {size:>5} pipelines: quiet sweep {f['quiet']:.0f} calls, busy sweep "
            f"{f['busy']:.0f} ({f['by_api']}); {f['per_day']:,.0f} calls a day = "
            f"{f['per_pipeline_sweep']:.3f} per pipeline per sweep"
        )


if __name__ == "__main__":
    main()
