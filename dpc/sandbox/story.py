"""The stories the sandbox tells: the case study's two days (`dpc demo`) and N plain days of
any folder of projects (`dpc sandbox run`).

Everything in a story's timeline is produced by what was deployed: the schedule rules
fire from the virtual clock, the state machines run their steps, the export rules, the
central bus, the trigger manager and the route rules decide who starts. The story itself
does only what people do: on day 2 the searches job meets missing input (a fault the
sandbox injects into its step, as a broken upstream would), and later that morning the
searches team reruns it (StartExecution in account B, with the failed run's input).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from dpc.sandbox.observed import Closing, WhySeen, read_runs, read_why
from dpc.sandbox.org import DeployedOrg, Timings, deploy_org, load_projects
from dpc.sandbox.sandbox import DEFAULT_START, Sandbox
from dpc.sandbox.server import CASE_STUDY_ACCOUNTS, CENTRAL_ACCOUNT
from dpc.sandbox.timeline import StatusChange, Timeline

CASE_STUDY = Path(__file__).resolve().parents[2] / "samples" / "case-study"
DAY = timedelta(days=1)
FAULT = "input missing: the search logs of the day never arrived"
RERUN_AT = timedelta(hours=9)
"""Day 2, 09:00 UTC: the searches team has fixed the input and reruns the job."""

Progress = Callable[[str], None]


@dataclass(frozen=True)
class StoryResult:
    timeline: Timeline
    timings: Timings
    names: dict[str, str]
    """Account id → the story's name for it (``A``, ``central``), for the human timeline."""
    closing: Closing | None = None
    """`dpc runs` and `dpc why pipeline-x` as the demo read them (its human output ends so)."""


def case_study_dir() -> Path:
    return CASE_STUDY


def run_demo(
    *,
    org_dir: Path | None = None,
    start: datetime = DEFAULT_START,
    work_dir: Path | None = None,
    progress: Progress = lambda _: None,
) -> StoryResult:
    """The case study over two days (issue 5's story)."""
    timings = Timings()
    pipelines = load_projects(org_dir or CASE_STUDY)
    with Sandbox(accounts=CASE_STUDY_ACCOUNTS, start=start, work_dir=work_dir) as sandbox:
        deploy_org(sandbox, pipelines, timings=timings, progress=progress)
        progress("running day 1 and day 2 on the virtual clock")
        began = time.perf_counter()
        # Asked on day 2 just before the rerun, `dpc why` answers "searches FAILED".
        asked: list[WhySeen] = []
        sandbox.clock.at(
            start + DAY + RERUN_AT, lambda: asked.append(read_why(sandbox, "pipeline-x", limit=3))
        )
        _two_days(sandbox, start)
        timings.run = time.perf_counter() - began
        names = {account: name for name, account in CASE_STUDY_ACCOUNTS.items()}
        closing = Closing(read_runs(sandbox, since=start), asked[0])
        return StoryResult(sandbox.timeline, timings, names, closing)


def _two_days(sandbox: Sandbox, start: datetime) -> None:
    searches_account = CASE_STUDY_ACCOUNTS["B"]
    # Day 1: the schedules fire, both parents succeed, pipeline-x follows.
    sandbox.run_until(start + DAY)
    # Day 2: searches' input is missing, so its step fails when it runs at 05:00.
    sandbox.runtime.note("day 2: the search logs of the day have not arrived")
    sandbox.inject_fault(searches_account, "searches", FAULT)
    sandbox.run_until(start + DAY + RERUN_AT)
    # The searches team fixes the input and reruns the failed run, as on AWS.
    failed = _last_run(sandbox.timeline, "searches", "FAILED")
    states = sandbox.client(searches_account, "stepfunctions")
    machine = _state_machine_arn(sandbox, searches_account, "searches")
    described = states.describe_execution(
        executionArn=machine.replace(":stateMachine:", ":execution:") + f":{failed.execution}"
    )
    sandbox.runtime.note("the searches team fixed the input and reruns searches")
    states.start_execution(
        stateMachineArn=machine,
        name=f"searches-rerun-{sandbox.now:%Y%m%dT%H%M}",
        input=described["input"],
    )
    sandbox.run_until(start + 2 * DAY)


def _last_run(timeline: Timeline, pipeline: str, status: str) -> StatusChange:
    runs = [s for s in timeline.of(StatusChange) if s.pipeline == pipeline and s.status == status]
    if not runs:
        from dpc.errors import DpcError

        raise DpcError(f"the story expected a {status} run of {pipeline}, and there was none")
    return runs[-1]


def _state_machine_arn(sandbox: Sandbox, account: str, pipeline: str) -> str:
    from dpc import constants

    states = sandbox.client(account, "stepfunctions")
    wanted = f"{constants.STATE_MACHINE_PREFIX}{pipeline}"
    for machine in states.list_state_machines()["stateMachines"]:
        if machine["name"] == wanted:
            return str(machine["stateMachineArn"])
    from dpc.errors import DpcError

    raise DpcError(f"no state machine {wanted} in account {account}")


def run_days(
    org_dir: Path,
    *,
    days: int,
    failures: tuple[tuple[str, int], ...] = (),
    start: datetime = DEFAULT_START,
    work_dir: Path | None = None,
    progress: Progress = lambda _: None,
) -> StoryResult:
    """Deploy every project of ``org_dir`` and let the clock run ``days`` days;
    ``failures`` are (pipeline, day) pairs: that pipeline's first step that day fails."""
    from dpc.sandbox.org import accounts_for

    timings = Timings()
    pipelines = load_projects(org_dir)
    by_name = {p.name: p for p in pipelines}
    for name, _ in failures:
        if name not in by_name:
            from dpc.errors import UsageError

            raise UsageError(f"--fail {name}: no such pipeline in {org_dir}")
    accounts = accounts_for(pipelines, CENTRAL_ACCOUNT)
    with Sandbox(accounts=accounts, start=start, work_dir=work_dir) as sandbox:
        deployed: DeployedOrg = deploy_org(sandbox, pipelines, timings=timings, progress=progress)
        progress(f"running {days} day(s) on the virtual clock")
        began = time.perf_counter()
        for name, day in failures:
            account = str(by_name[name].account)
            sandbox.clock.at(
                start + (day - 1) * DAY,
                lambda a=account, n=name, d=day: sandbox.inject_fault(a, n, f"--fail {n}:{d}"),
            )
        sandbox.run_until(start + days * DAY)
        timings.run = time.perf_counter() - began
        names = {deployed.central_account: "central"}
        return StoryResult(sandbox.timeline, timings, names)
