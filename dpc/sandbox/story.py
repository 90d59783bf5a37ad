"""The stories the sandbox tells: the case study's two days (`dpc demo`) and N plain days of
any folder of projects (`dpc sandbox run`).

Everything in a story's timeline is produced by what was deployed: the schedule rules
fire from the virtual clock, the state machines run their steps, the export rules, the
central bus, the trigger manager and the route rules decide who starts. The story itself
does only what people and the systems upstream of the pipelines do: at each midnight the
exporters drop the day's raw input in the landing area (the org's ``upstream/land.sh``);
on day 2 the search logs are late, so searches' step, finding no input at 05:00, really
fails; they arrive at 09:00 and the searches team reruns the failed run (``dpc rerun``'s
own code, in account B); on day 3 the searches team finds 27 November's logs were wrong,
lands corrected ones and reruns 27 November (``dpc rerun`` again) — pipeline-x, with
``correlate: period``, reruns for 27 November only (DESIGN §5b).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from dpc.errors import DpcError
from dpc.sandbox.chaos import Chaos
from dpc.sandbox.observed import (
    Closing,
    Executed,
    WhySeen,
    executed,
    read_runs,
    read_status,
    read_why,
)
from dpc.sandbox.org import DeployedOrg, Timings, deploy_org, load_projects
from dpc.sandbox.sandbox import DEFAULT_START, Sandbox
from dpc.sandbox.server import CASE_STUDY_ACCOUNTS, CENTRAL_ACCOUNT
from dpc.sandbox.timeline import StatusChange, Timeline
from dpc.triggers.periods import period_containing

CASE_STUDY = Path(__file__).resolve().parents[2] / "samples" / "case-study"
DAY = timedelta(days=1)
UPSTREAM = Path("upstream") / "land.sh"
"""An org folder's upstream systems: run at each midnight, they land the day's raw input."""
ON_TIME_INPUT = "listings-export"
LATE_INPUT = "search-logs"
"""Day 2's late delivery: searches' input, which its step then finds missing at 05:00."""
RERUN_AT = timedelta(hours=9)
"""Day 2, 09:00 UTC: the search logs arrive and the searches team reruns the failed run."""
CORRECTION_AT = timedelta(hours=10)
"""Day 3, 10:00 UTC: corrected search logs of day 1 arrive; the searches team reruns day 1."""
DAYS = 3

Progress = Callable[[str], None]


@dataclass(frozen=True)
class StoryResult:
    timeline: Timeline
    timings: Timings
    names: dict[str, str]
    """Account id → the story's name for it (``A``, ``central``), for the human timeline."""
    closing: Closing | None = None
    """`dpc runs`, `dpc why pipeline-x` and `dpc status` of day 2 as the demo read them (its
    human output ends so)."""
    executed: tuple[Executed, ...] = ()
    """What really ran (every execution of every dpc state machine), for chaos runs' check."""
    chaos: Chaos | None = None


def case_study(org_dir: Path | None = None) -> Path:
    """The org the demo tells: ``org_dir``, else the repository's samples/case-study. The
    samples are not package data, so an installed dpc has none: say so, not a traceback."""
    folder = org_dir or CASE_STUDY
    if not folder.is_dir():
        raise DpcError(
            f"the case study is not at {folder}: `dpc demo` (and `dpc sandbox up` without "
            "--org) runs from a clone of the dpc repository, whose samples/case-study is not "
            "installed with the package. Run it from a clone, or pass --org DIR, a folder "
            "shaped like samples/case-study (its projects and upstream/land.sh)."
        )
    return folder


def run_demo(
    *,
    org_dir: Path | None = None,
    start: datetime = DEFAULT_START,
    work_dir: Path | None = None,
    progress: Progress = lambda _: None,
    chaos: Chaos | None = None,
) -> StoryResult:
    """The case study over three days (issue 5's story, and a rerun of day 1 on day 3).

    With ``chaos``, AWS's documented faults are injected from the first tick on, and an
    operator on call clears whatever got stuck (``dpc doctor``, ``dpc redrive``) each
    evening; the runs must be exactly those of the clean story."""
    timings = Timings()
    folder = case_study(org_dir)
    pipelines = load_projects(folder)
    with Sandbox(accounts=CASE_STUDY_ACCOUNTS, start=start, work_dir=work_dir) as sandbox:
        deployed = deploy_org(sandbox, pipelines, timings=timings, progress=progress)
        if chaos is not None:
            sandbox.runtime.chaos = chaos
            _operator_on_call(sandbox, deployed, start, DAYS)
        progress("running days 1 to 3 on the virtual clock")
        began = time.perf_counter()
        # Asked on day 2 just before the rerun, `dpc why` answers "searches FAILED".
        asked: list[WhySeen] = []
        sandbox.clock.at(
            start + DAY + RERUN_AT, lambda: asked.append(read_why(sandbox, "pipeline-x", limit=3))
        )
        _three_days(sandbox, start, folder / UPSTREAM)
        timings.run = time.perf_counter() - began
        names = {account: name for name, account in CASE_STUDY_ACCOUNTS.items()}
        if chaos is not None:
            _clear_what_is_stuck(sandbox, deployed)
        day_two = period_containing("day", start + DAY)
        closing = Closing(read_runs(sandbox, since=start), asked[0], read_status(sandbox, day_two))
        return StoryResult(sandbox.timeline, timings, names, closing, executed(sandbox), chaos)


def _three_days(sandbox: Sandbox, start: datetime, upstream: Path) -> None:
    # Day 1: both inputs land, the schedules fire, both parents succeed, pipeline-x follows.
    sandbox.land(upstream)
    sandbox.runtime.note(f"the listings export and the search logs of {start:%Y-%m-%d} arrived")
    sandbox.run_until(start + DAY)
    # Day 2: the listings export lands, the search logs do not: searches' step finds no
    # input when it runs at 05:00 and fails on its own.
    sandbox.land(upstream, ON_TIME_INPUT)
    sandbox.runtime.note(
        f"the listings export of {sandbox.now:%Y-%m-%d} arrived; the search logs are late"
    )
    sandbox.run_until(start + DAY + RERUN_AT)
    sandbox.land(upstream, LATE_INPUT)
    sandbox.runtime.note(f"the search logs of {sandbox.now:%Y-%m-%d} arrived")
    failed = _last_run(sandbox.timeline, "searches", "FAILED")
    sandbox.runtime.note("the searches team reruns the failed run of searches (dpc rerun)")
    _rerun(sandbox, "searches", failed.execution)
    # Day 3: an ordinary day; then the corrected search logs of day 1 arrive and the searches
    # team reruns day 1: pipeline-x reruns for day 1 only, days 2 and 3 stand.
    sandbox.run_until(start + 2 * DAY)
    sandbox.land(upstream)
    sandbox.runtime.note(
        f"the listings export and the search logs of {sandbox.now:%Y-%m-%d} arrived"
    )
    sandbox.run_until(start + 2 * DAY + CORRECTION_AT)
    sandbox.land(upstream, LATE_INPUT, day=start)
    first = _first_run(sandbox.timeline, "searches", "SUCCEEDED")
    sandbox.runtime.note(
        f"corrected search logs of {start:%Y-%m-%d} arrived: the searches team reruns "
        f"{start:%Y-%m-%d} (dpc rerun {first.execution}); pipeline-x will rebuild "
        f"{start:%Y-%m-%d} only"
    )
    _rerun(sandbox, "searches", first.execution)
    sandbox.run_until(start + DAYS * DAY)


def _rerun(sandbox: Sandbox, pipeline: str, execution: str) -> None:
    """What `dpc rerun EXECUTION` does, with the team's own credentials."""
    from dpc.operate.starts import Target
    from dpc.operate.starts import rerun as start_rerun
    from dpc.triggers.periods import PeriodSpec

    account = CASE_STUDY_ACCOUNTS["A" if pipeline == "listings" else "B"]
    states = sandbox.client(account, "stepfunctions")
    target = Target(pipeline, account, states.meta.region_name, PeriodSpec())
    start_rerun(states, target, execution, propagate=True, now=sandbox.now)


def _first_run(timeline: Timeline, pipeline: str, status: str) -> StatusChange:
    runs = [s for s in timeline.of(StatusChange) if s.pipeline == pipeline and s.status == status]
    if not runs:
        raise DpcError(f"the story expected a {status} run of {pipeline}, and there was none")
    return runs[0]


def _last_run(timeline: Timeline, pipeline: str, status: str) -> StatusChange:
    runs = [s for s in timeline.of(StatusChange) if s.pipeline == pipeline and s.status == status]
    if not runs:
        from dpc.errors import DpcError

        raise DpcError(f"the story expected a {status} run of {pipeline}, and there was none")
    return runs[-1]


def run_days(
    org_dir: Path,
    *,
    days: int,
    failures: tuple[tuple[str, int], ...] = (),
    start: datetime = DEFAULT_START,
    work_dir: Path | None = None,
    progress: Progress = lambda _: None,
    chaos: Chaos | None = None,
) -> StoryResult:
    """Deploy every project of ``org_dir`` and let the clock run ``days`` days (with
    ``chaos``: under AWS's faults, an operator on call clearing what gets stuck);
    ``failures`` are (pipeline, day) pairs: that pipeline's first step that day is reported
    failed without running (a what-if). When ``org_dir`` has ``upstream/land.sh``, it runs
    at every midnight to land the day's input."""
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
        if chaos is not None:
            sandbox.runtime.chaos = chaos
            _operator_on_call(sandbox, deployed, start, days)
        progress(f"running {days} day(s) on the virtual clock")
        began = time.perf_counter()
        upstream = org_dir / UPSTREAM
        if upstream.is_file():
            for day in range(days):
                sandbox.clock.at(start + day * DAY, lambda: sandbox.land(upstream))
        for name, day in failures:
            account = str(by_name[name].account)
            sandbox.clock.at(
                start + (day - 1) * DAY,
                functools.partial(sandbox.inject_fault, account, name, f"--fail {name}:{day}"),
            )
        sandbox.run_until(start + days * DAY)
        if chaos is not None:
            _clear_what_is_stuck(sandbox, deployed)
        timings.run = time.perf_counter() - began
        names = {deployed.central_account: "central"}
        return StoryResult(
            sandbox.timeline, timings, names, executed=executed(sandbox), chaos=chaos
        )


PAGED_WITHIN = timedelta(hours=1)
"""How soon the operator on call looks at `dpc doctor` once a dead-letter alarm fires: the
sandbox evaluates no CloudWatch alarm, so the operator looks every hour instead."""
SETTLE = timedelta(hours=1)


def _operator_on_call(sandbox: Sandbox, deployed: DeployedOrg, start: datetime, days: int) -> None:
    moment = start + PAGED_WITHIN
    while moment <= start + days * DAY:
        sandbox.clock.at(moment, lambda: _operate(sandbox, deployed))
        moment += PAGED_WITHIN


def _operate(sandbox: Sandbox, deployed: DeployedOrg) -> bool:
    """What the operator does when an alarm fires: `dpc doctor`, then `dpc redrive` of each
    queue it lists, in every account, with that account's credentials (the commands' own
    service code). True when something was stuck."""
    from dpc.operate.doctor import diagnose
    from dpc.operate.redrive import Redriver

    stuck = False
    for account in (deployed.central_account, *deployed.user_accounts):
        sqs = sandbox.client(account, "sqs")
        diagnosis = diagnose(sqs, sandbox.client(account, "cloudwatch"), account)
        if not diagnosis.queues:
            continue
        stuck = True
        redriver = Redriver(
            sqs, sandbox.client(account, "lambda"), sandbox.client(account, "events")
        )
        for queue in diagnosis.queues:
            sandbox.runtime.note(
                f"operator: dpc doctor in {account} shows {queue.messages} message(s) in "
                f"{queue.name}; dpc redrive {queue.name}",
                "chaos",
            )
            redriver.redrive(queue.url)
    return stuck


def _clear_what_is_stuck(sandbox: Sandbox, deployed: DeployedOrg, rounds: int = 5) -> None:
    """After the story: redrive until `dpc doctor` finds nothing stuck anywhere."""
    for _ in range(rounds):
        if not _operate(sandbox, deployed):
            return
        sandbox.advance(SETTLE)
    raise DpcError(f"something is still stuck after {rounds} rounds of dpc redrive")
