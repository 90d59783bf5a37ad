"""`dpc runs` and `dpc why` on moto, reading what the trigger manager itself wrote.

Events go through the real trigger-manager handler logic (registry, DynamoDB store, engine),
so these tests also prove that the readers understand the records as they are written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from dpc.cli.app import app
from dpc.errors import DpcError
from dpc.lambdas.registry import DynamoDbRegistry, Registration
from dpc.lambdas.tables import DEPENDENCIES, RUN_LOG, TRIGGER_STATE, create_tables
from dpc.lambdas.trigger_manager import Settings, TriggerManager, status_change_event
from dpc.observe import runlog
from dpc.observe.aws import table_name
from dpc.spec.loader import load_org
from dpc.triggers.engine import Outcome
from dpc.triggers.events import RunEvent, Trigger
from dpc.triggers.model import ParentRef
from dpc.triggers.timefmt import parse_time

SAMPLES = Path(__file__).parents[2] / "samples"
REGION = "eu-west-1"
A, B, C = "111111111111", "222222222222", "333333333333"
LOADS, REPORTS = "444444444444", "555555555555"
UNTIL = ["--until", "2026-11-29T00:00:00Z"]


@dataclass
class RecordingPublisher:
    """Stands in for EventBridge: the triggers the manager published, in order."""

    triggers: list[Trigger] = field(default_factory=list)

    def publish(self, triggers: Any) -> None:
        self.triggers.extend(triggers)


@dataclass
class Central:
    dynamodb: Any
    manager: TriggerManager
    publisher: RecordingPublisher
    wall_clock: list[datetime]
    """Events reach the trigger manager in order, as they happen (a late event arrives late):
    the handler's clock is the newest event time fed so far, and always moves on."""

    def feed(
        self,
        pipeline: str,
        account: str,
        status: str,
        execution: str,
        at: str,
        started: str | None = None,
        run_input: dict[str, Any] | None = None,
    ) -> Outcome | None:
        run = RunEvent(parse_time(at), ParentRef(pipeline, account), status, execution)  # type: ignore[arg-type]
        self.wall_clock[0] = max(self.wall_clock[0] + timedelta(seconds=1), run.time)
        event = status_change_event(
            run, started_at=parse_time(started) if started else None, region=REGION
        )
        if run_input is not None:
            event["detail"]["input"] = json.dumps(run_input)
        return self.manager.handle(event)

    def run(self, pipeline: str, account: str, execution: str, start: str, end: str, status: str,
            run_input: dict[str, Any] | None = None) -> None:  # fmt: skip
        """One execution: RUNNING at ``start``, then its terminal status at ``end``."""
        self.feed(pipeline, account, "RUNNING", execution, start, run_input=run_input)
        self.feed(pipeline, account, status, execution, end, started=start)


def state_machine_arn(ref: ParentRef) -> str:
    return f"arn:aws:states:{REGION}:{ref.account}:stateMachine:dpc-{ref.name}"


@pytest.fixture
def central(monkeypatch: pytest.MonkeyPatch) -> Iterator[Central]:
    """The case study and the fallback sample registered in a central account on moto; the
    CLI finds the tables through their environment variables (as in the Lambda)."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        environment = create_tables(dynamodb)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        registry = DynamoDbRegistry(environment[DEPENDENCIES.env_var], dynamodb)
        for pipeline in load_org([SAMPLES / "case-study", SAMPLES / "fallback"]).pipelines:
            schedule = pipeline.trigger.schedule
            condition = pipeline.trigger.executions
            if pipeline.name == "pipeline-x" and condition is not None:
                # These tests read §5 (latest, with a midnight reset) back from the records;
                # the case study's own correlate: period is read back in test_why_for_a_period.
                condition = replace(condition, correlate="latest", reset_cron="0 0 * * ? *")
            registry.register(
                Registration(
                    pipeline.ref,
                    state_machine_arn(pipeline.ref),
                    condition,
                    schedule.expression if schedule else None,
                )
            )
        publisher = RecordingPublisher()
        settings = Settings(
            run_log_table=environment[RUN_LOG.env_var],
            dependencies_table=environment[DEPENDENCIES.env_var],
            trigger_state_table=environment[TRIGGER_STATE.env_var],
            event_bus_name="dpc-central-bus",
        )
        wall_clock = [datetime.fromisoformat("2000-01-01T00:00:00+00:00")]
        manager = TriggerManager(
            settings, dynamodb=dynamodb, publisher=publisher, clock=lambda: wall_clock[0]
        )
        yield Central(dynamodb, manager, publisher, wall_clock)


@pytest.fixture
def recorded_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """DynamoDB operations the CLI sends (botocore's own event hook on every client)."""
    calls: list[str] = []
    original = boto3.session.Session.client

    def client(self: Any, *args: Any, **kwargs: Any) -> Any:
        made = original(self, *args, **kwargs)
        made.meta.events.register(
            "before-call.dynamodb.*", lambda model, **_: calls.append(model.name)
        )
        return made

    monkeypatch.setattr(boto3.session.Session, "client", client)
    return calls


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def scheduled(at: str) -> dict[str, Any]:
    """The execution input a schedule rule gives (dpc.infra.pipeline): its event id is the
    trigger id, so a run restarted with the same input is recognisable."""
    return {"trigger_id": f"schedule-event-{at}", "causes": [], "scheduled_time": at}


def case_study_two_days(central: Central) -> None:
    """Day 1: both parents succeed, pipeline-x is triggered and succeeds.
    Day 2: listings succeeds, searches FAILS at 05:12 — pipeline-x must not run."""
    central.run("listings", A, "listings-d1", "2026-11-27T03:00:00Z", "2026-11-27T03:05:00Z",
                "SUCCEEDED", scheduled("2026-11-27T03:00:00Z"))  # fmt: skip
    central.run("searches", B, "searches-d1", "2026-11-27T05:00:00Z", "2026-11-27T05:07:00Z",
                "SUCCEEDED", scheduled("2026-11-27T05:00:00Z"))  # fmt: skip
    trigger = central.publisher.triggers[-1]
    central.run("pipeline-x", C, "pipeline-x-d1", "2026-11-27T05:08:00Z", "2026-11-27T05:30:00Z",
                "SUCCEEDED", trigger.detail())  # fmt: skip
    central.run("listings", A, "listings-d2", "2026-11-28T03:00:00Z", "2026-11-28T03:05:00Z",
                "SUCCEEDED", scheduled("2026-11-28T03:00:00Z"))  # fmt: skip
    central.run("searches", B, "searches-d2", "2026-11-28T05:00:00Z", "2026-11-28T05:12:00Z",
                "FAILED", scheduled("2026-11-28T05:00:00Z"))  # fmt: skip


# --- dpc runs ---------------------------------------------------------------------------


def test_runs_lists_the_case_study_newest_first_with_what_triggered_each(
    central: Central,
) -> None:
    case_study_two_days(central)

    code, stdout, _ = cli("runs", "--json", "--since", "3d", *UNTIL)

    assert code == 0
    runs = json.loads(stdout)
    assert [r["execution"] for r in runs] == [
        "searches-d2",
        "listings-d2",
        "pipeline-x-d1",
        "searches-d1",
        "listings-d1",
    ]
    by_execution = {r["execution"]: r for r in runs}
    assert by_execution["searches-d2"]["status"] == "FAILED"
    assert by_execution["searches-d2"]["duration_seconds"] == 12 * 60
    assert by_execution["listings-d1"]["triggered_by"] == "schedule"
    assert by_execution["pipeline-x-d1"]["triggered_by"] == (
        f"listings@{A} SUCCEEDED, searches@{B} SUCCEEDED"
    )
    assert by_execution["pipeline-x-d1"]["trigger_id"] == central.publisher.triggers[0].trigger_id


def test_runs_table_shows_every_column(central: Central) -> None:
    case_study_two_days(central)

    code, stdout, stderr = cli("runs", "--since", "3d", *UNTIL)

    assert code == 0
    header = stdout.splitlines()[0].split()
    assert header[:5] == ["PIPELINE", "ACCOUNT", "EXECUTION", "PERIOD", "STATUS"]
    assert "TRIGGERED BY" in stdout.splitlines()[0]
    row = next(line for line in stdout.splitlines() if "searches-d2" in line)
    assert row.split()[:8] == [
        "searches",
        B,
        "searches-d2",
        "2026-11-28",
        "FAILED",
        "2026-11-28",
        "05:00:00",
        "12m00s",
    ]
    assert row.rstrip().endswith("schedule")
    assert "5 runs since 2026-11-26 00:00 UTC" in stderr


def test_runs_of_one_pipeline_filters_and_limit(central: Central) -> None:
    case_study_two_days(central)

    one = json.loads(cli("runs", f"listings@{A}", "--json", "--since", "3d", *UNTIL)[1])
    failed = json.loads(cli("runs", "--status", "FAILED", "--json", "--since", "3d", *UNTIL)[1])
    in_b = json.loads(cli("runs", "--account", B, "--json", "--since", "3d", *UNTIL)[1])
    recent = json.loads(cli("runs", "--json", "--since", "1d", *UNTIL)[1])
    newest = json.loads(cli("runs", "--json", "--limit", "2", "--since", "3d", *UNTIL)[1])
    by_name = json.loads(cli("runs", "searches", "--json", "--since", "3d", *UNTIL)[1])

    assert [r["execution"] for r in one] == ["listings-d2", "listings-d1"]
    assert [r["execution"] for r in failed] == ["searches-d2"]
    assert {r["account"] for r in in_b} == {B} and len(in_b) == 2
    assert [r["execution"] for r in recent] == ["searches-d2", "listings-d2"]
    assert [r["execution"] for r in newest] == ["searches-d2", "listings-d2"]
    assert [r["execution"] for r in by_name] == ["searches-d2", "searches-d1"]


def test_runs_pages_through_queries_and_never_scans(
    central: Central, recorded_calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 30 runs of listings over three days, and pages of 4 items
    for i in range(30):
        day, minute = 25 + i // 10, i % 10
        start = f"2026-11-{day}T03:{minute:02d}:00Z"
        central.run("listings", A, f"listings-{i:02d}", start,
                    f"2026-11-{day}T04:{minute:02d}:00Z", "SUCCEEDED")  # fmt: skip
    monkeypatch.setattr(runlog, "PAGE_SIZE", 4)

    # When every pipeline's runs, then listings' own, are listed
    everything = json.loads(cli("runs", "--json", "--since", "5d", "--limit", "100", *UNTIL)[1])
    own = json.loads(cli("runs", f"listings@{A}", "--json", "--since", "5d", *UNTIL)[1])
    first_five = json.loads(cli("runs", f"listings@{A}", "--json", "--limit", "5", *UNTIL)[1])

    # Then all of them come back newest first, through several Query pages and no Scan
    expected = [f"listings-{i:02d}" for i in reversed(range(30))]
    assert [r["execution"] for r in everything] == expected
    assert [r["execution"] for r in own] == expected
    assert [r["execution"] for r in first_five] == expected[:5]
    assert "Scan" not in recorded_calls
    assert recorded_calls.count("Query") >= 2 * (30 // 4)


def test_runs_shows_a_failed_run_restarted_with_its_input(central: Central) -> None:
    # Given day 2, and the searches team restarting the failed run with the same input
    case_study_two_days(central)
    central.run("searches", B, "searches-d2-rerun", "2026-11-28T09:00:00Z",
                "2026-11-28T09:06:00Z", "SUCCEEDED", scheduled("2026-11-28T05:00:00Z"))  # fmt: skip

    runs = json.loads(cli("runs", "searches", "--json", "--since", "3d", *UNTIL)[1])

    assert [(r["execution"], r["triggered_by"]) for r in runs] == [
        ("searches-d2-rerun", "rerun of searches-d2"),
        ("searches-d2", "schedule"),
        ("searches-d1", "schedule"),
    ]
    assert central.publisher.triggers[-1].causes[-1].execution == "searches-d2-rerun"


def test_runs_refuses_a_bad_since_or_status(central: Central) -> None:
    code, _, stderr = cli("runs", "--since", "yesterday")
    assert code == 2 and "--since 'yesterday'" in stderr
    code, _, stderr = cli("runs", "--status", "DONE")
    assert code == 2 and "--status 'DONE'" in stderr
    code, _, stderr = cli("runs", "--since", "999999d")
    assert code == 2 and "--since '999999d' reaches before year 1" in stderr


def test_runs_finds_the_tables_through_the_central_stack(
    central: Central, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the central stack as CloudFormation names its tables (no environment variables)
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    template = {
        "Resources": {
            "TablesRunLog0A1B2C3D": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                },
            }
        }
    }
    cloudformation.create_stack(StackName="dpc-central", TemplateBody=json.dumps(template))
    monkeypatch.delenv(RUN_LOG.env_var)

    # Then the run log's physical name is read from the stack; a missing stack is explained
    physical = table_name(RUN_LOG, cloudformation)
    assert physical in boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"]
    assert physical != central.manager.store.run_log_table
    monkeypatch.delenv(DEPENDENCIES.env_var)
    with pytest.raises(DpcError, match="has no Dependencies table"):
        table_name(DEPENDENCIES, cloudformation)
    with pytest.raises(DpcError, match="cannot read the central stack 'elsewhere'"):
        table_name(RUN_LOG, cloudformation, stack="elsewhere")


# --- dpc why: one test per §5 outcome ----------------------------------------------------


def why(*args: str) -> tuple[int, str, str]:
    return cli("why", *args)


def why_json(*args: str) -> dict[str, Any]:
    code, stdout, stderr = why(*args, "--json")
    assert code == 0, stderr
    return json.loads(stdout)  # type: ignore[no-any-return]


def test_why_day_two_says_searches_failed(central: Central) -> None:
    # Given day 2 of the case study: listings succeeded, searches failed at 05:12
    case_study_two_days(central)

    # When the user asks why pipeline-x did not run
    code, stdout, _ = why("pipeline-x")

    # Then the first line names the failed parent run, and the history explains each event
    assert code == 0
    lines = stdout.splitlines()
    assert lines[0] == (
        f"pipeline-x@{C} did not run after searches@{B} FAILED at 2026-11-28 05:12:00 "
        f"(searches-d2): waiting for searches@{B}: last run FAILED at 2026-11-28 05:12 UTC "
        "(searches-d2), wants SUCCEEDED"
    )
    assert f"✓ allOf listings@{A} [SUCCEEDED]: listings@{A} SUCCEEDED at 2026-11-28 03:05 UTC" in (
        stdout
    )
    triggered = next(line for line in lines if "→ TRIGGERED" in line)
    assert f"event searches@{B} SUCCEEDED at 2026-11-27 05:07:00" in triggered
    assert central.publisher.triggers[0].trigger_id in triggered


def test_why_after_a_trigger_the_parent_runs_are_consumed(central: Central) -> None:
    # Rule 5: day 1 triggered pipeline-x; day 2's listings success alone does not reuse
    # day 1's searches success
    case_study_two_days(central)

    evaluations = why_json("pipeline-x")["evaluations"]

    listings_day_two = next(e for e in evaluations if e["event"]["execution"] == "listings-d2")
    assert listings_day_two["result"] == "NOT_MET"
    searches_item = next(i for i in listings_day_two["items"] if i["pipeline"] == "searches")
    assert searches_item["met"] is False
    assert searches_item["reason"] == (
        f"waiting for searches@{B}: no run since the last trigger or reset"
    )
    assert [e["result"] for e in evaluations].count("TRIGGERED") == 1


def test_why_a_duplicate_event_adds_nothing(central: Central) -> None:
    # Rule 1: the same (execution, status) delivered twice is evaluated once
    case_study_two_days(central)
    before = why_json("pipeline-x")["evaluations"]

    central.feed("searches", B, "FAILED", "searches-d2", "2026-11-28T05:12:00Z",
                 started="2026-11-28T05:00:00Z")  # fmt: skip

    assert why_json("pipeline-x")["evaluations"] == before


def test_why_an_older_event_is_ignored_and_a_late_running_is_dropped(central: Central) -> None:
    # Rule 2: RUNNING after FAILED for one execution changes nothing; an event older than
    # the newest run seen of that parent is recorded as ignored, with the reason
    case_study_two_days(central)
    before = why_json("pipeline-x")["evaluations"]
    central.feed("searches", B, "RUNNING", "searches-d2", "2026-11-28T05:00:00Z")
    assert why_json("pipeline-x")["evaluations"] == before

    central.feed("listings", A, "SUCCEEDED", "listings-backfill", "2026-11-28T02:00:00Z",
                 started="2026-11-28T01:00:00Z")  # fmt: skip

    code, stdout, _ = why("pipeline-x")
    assert code == 0
    lines = stdout.splitlines()
    assert lines[0].startswith(f"pipeline-x@{C} did not run after searches@{B} FAILED")
    newest = lines.index("Recent evaluations, newest first (9):") + 1
    assert lines[newest].endswith("(listings-backfill)  → ignored")
    assert lines[newest + 1] == (
        f"    note: ignored: older than the latest listings@{A} run seen "
        "(SUCCEEDED at 2026-11-28 03:05 UTC, listings-d2)"
    )


def test_why_only_the_latest_run_of_a_parent_counts(central: Central) -> None:
    # Rule 6: listings succeeded, then a rerun started: the success no longer counts
    central.run("listings", A, "listings-d1", "2026-11-27T03:00:00Z", "2026-11-27T03:05:00Z",
                "SUCCEEDED")  # fmt: skip
    central.feed("listings", A, "RUNNING", "listings-d1-rerun", "2026-11-27T04:00:00Z")
    central.run("searches", B, "searches-d1", "2026-11-27T05:00:00Z", "2026-11-27T05:07:00Z",
                "SUCCEEDED")  # fmt: skip

    code, stdout, _ = why("pipeline-x", "--account", C)

    assert code == 0
    assert central.publisher.triggers == []
    assert stdout.splitlines()[0].endswith(
        f"waiting for listings@{A}: last run RUNNING at 2026-11-27 04:00 UTC "
        "(listings-d1-rerun), wants SUCCEEDED"
    )


def test_why_reset_clears_yesterdays_partial_match(central: Central) -> None:
    # Rule 8: listings succeeded on day 1 but searches only on day 2: the midnight reset
    # forgot day 1's success, so pipeline-x waits for today's listings
    central.run("listings", A, "listings-d1", "2026-11-27T03:00:00Z", "2026-11-27T03:05:00Z",
                "SUCCEEDED")  # fmt: skip
    central.run("searches", B, "searches-d2", "2026-11-28T05:00:00Z", "2026-11-28T05:07:00Z",
                "SUCCEEDED")  # fmt: skip

    code, stdout, _ = why("pipeline-x")

    assert code == 0
    assert central.publisher.triggers == []
    assert f"note: reset at 2026-11-28 00:00 UTC cleared partial match (listings@{A})" in stdout
    assert (
        f"waiting for listings@{A}: no run since the last trigger or reset"
        in (stdout.splitlines()[0])
    )


def test_why_within_explains_a_parent_run_too_old(central: Central) -> None:
    # Rule 3 with `within`: a child that needs both parents within one hour of each other
    from dpc.lambdas.registry import DynamoDbRegistry
    from dpc.triggers.model import Condition, Item

    fresh = ParentRef("fresh-x", C)
    condition = Condition(
        all_of=(
            Item(ParentRef("listings", A), frozenset({"SUCCEEDED"})),
            Item(ParentRef("searches", B), frozenset({"SUCCEEDED"})),
        ),
        within=timedelta(hours=1),
    )
    registry = DynamoDbRegistry(central.manager.registry.table, central.dynamodb)
    registry.register(Registration(fresh, state_machine_arn(fresh), condition))
    central.run("listings", A, "listings-d1", "2026-11-27T03:00:00Z", "2026-11-27T03:05:00Z",
                "SUCCEEDED")  # fmt: skip
    central.run("searches", B, "searches-d1", "2026-11-27T05:00:00Z", "2026-11-27T05:07:00Z",
                "SUCCEEDED")  # fmt: skip

    code, stdout, _ = why("fresh-x")

    assert code == 0
    assert stdout.splitlines()[0] == (
        f"fresh-x@{C} did not run after searches@{B} SUCCEEDED at 2026-11-27 05:07:00 "
        f"(searches-d1): listings@{A} SUCCEEDED at 2026-11-27 03:05 UTC (listings-d1) is older "
        "than within=1h"
    )
    assert [t.child for t in central.publisher.triggers] == [ParentRef("pipeline-x", C)]


def test_why_any_of_and_or_explain_which_block_fired(central: Central) -> None:
    # Rule 4: the fallback sample — nightly-load fails, load-recovery (anyOf FAILED) runs and
    # succeeds, and daily-report (allOf nightly-load OR anyOf load-recovery) fires on it
    central.run("nightly-load", LOADS, "load-d1", "2026-11-27T01:30:00Z", "2026-11-27T01:45:00Z",
                "FAILED")  # fmt: skip
    recovery = central.publisher.triggers[-1]
    central.run("load-recovery", LOADS, "recovery-d1", "2026-11-27T01:46:00Z",
                "2026-11-27T02:10:00Z", "SUCCEEDED", recovery.detail())  # fmt: skip

    recovery_why = why_json("load-recovery")
    code, stdout, _ = why("daily-report")

    assert recovery_why["evaluations"][0]["result"] == "TRIGGERED"
    assert recovery_why["summary"] == (
        f"load-recovery@{LOADS} was triggered after nightly-load@{LOADS} FAILED at "
        f"2026-11-27 01:45:00 (load-d1) (trigger {recovery.trigger_id})"
    )
    assert code == 0
    assert stdout.splitlines()[0].startswith(
        f"daily-report@{REPORTS} was triggered after load-recovery@{LOADS} SUCCEEDED"
    )
    assert f"✗ allOf nightly-load@{LOADS} [SUCCEEDED]: waiting for nightly-load@{LOADS}: " in (
        stdout
    )
    assert f"✓ anyOf load-recovery@{LOADS} [SUCCEEDED]: load-recovery@{LOADS} SUCCEEDED" in stdout
    runs = json.loads(cli("runs", "--json", "--since", "3d", *UNTIL)[1])
    assert runs[0]["triggered_by"] == f"nightly-load@{LOADS} FAILED"


def test_why_a_scheduled_pipeline_waits_for_nobody(central: Central) -> None:
    code, stdout, _ = why("listings")

    assert code == 0
    assert stdout.splitlines() == [
        f"listings@{A} runs on its schedule cron(0 3 * * ? *); it waits for no other pipeline.",
        f"No evaluation of listings@{A} recorded (records are kept 30 days).",
    ]


def test_why_before_any_parent_ran(central: Central) -> None:
    code, stdout, _ = why(f"pipeline-x@{C}")

    assert code == 0
    assert stdout.strip() == (
        f"No evaluation of pipeline-x@{C} recorded (records are kept 30 days): none of its "
        f"parents (listings@{A}, searches@{B}) reported a run."
    )


def test_why_unknown_or_ambiguous_names(central: Central) -> None:
    other = ParentRef("searches", C)
    central.manager.registry.register(Registration(other, state_machine_arn(other)))

    code, _, stderr = why("serches")
    assert code == 1 and "no registered pipeline is named 'serches'" in stderr
    code, _, stderr = why("searches")
    assert code == 2 and f"several accounts ({B}, {C}): pass --account" in stderr
    assert why("searches", "--account", C)[0] == 0


# --- dpc graph --central -----------------------------------------------------------------


def test_graph_central_draws_the_registry_coloured_by_last_status(
    central: Central, tmp_path: Path
) -> None:
    # Given the deployed registry (case study + fallback) and two days of runs
    case_study_two_days(central)

    # When the graph is read from the central account
    code, stdout, _ = cli("graph", "--central", "--format", "json")
    page = tmp_path / "central.html"
    html_code = cli("graph", "--central", "-o", str(page))[0]

    # Then every registered pipeline is drawn with its newest run's status
    assert code == 0 and html_code == 0
    data = json.loads(stdout)
    statuses = {f"{n['pipeline']}@{n['account']}": n["status"] for n in data["nodes"]}
    assert statuses == {
        f"listings@{A}": "SUCCEEDED",
        f"searches@{B}": "FAILED",
        f"pipeline-x@{C}": "SUCCEEDED",
        f"nightly-load@{LOADS}": None,
        f"load-recovery@{LOADS}": None,
        f"daily-report@{REPORTS}": None,
    }
    assert {
        (e["parent"]["pipeline"], e["child"]["pipeline"], e["block"]) for e in data["edges"]
    } == {
        ("listings", "pipeline-x", "allOf"),
        ("searches", "pipeline-x", "allOf"),
        ("nightly-load", "load-recovery", "anyOf"),
        ("nightly-load", "daily-report", "allOf"),
        ("load-recovery", "daily-report", "anyOf"),
    }
    html = page.read_text()
    assert 'data-pipeline="searches" data-account="222222222222" data-status="FAILED"' in html
    assert 'fill="#ffcdd2"' in html  # the FAILED colour, shown in the legend and on searches


def test_aws_problems_are_one_line_errors(
    central: Central, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(RUN_LOG.env_var, "no-such-table")
    code, stdout, stderr = cli("runs")
    assert code == 1 and stdout == ""
    assert "AWS refused Query: ResourceNotFoundException" in stderr
    assert "Traceback" not in stderr

    code, _, stderr = cli("why", "pipeline-x", "--profile", "no-such-profile")
    assert code == 1 and "no-such-profile" in stderr


def test_why_mentions_the_schedule_of_a_pipeline_that_also_waits(central: Central) -> None:
    from dpc.triggers.model import Condition, Item

    both = ParentRef("both-x", C)
    condition = Condition(all_of=(Item(ParentRef("listings", A), frozenset({"SUCCEEDED"})),))
    central.manager.registry.register(
        Registration(both, state_machine_arn(both), condition, "cron(0 6 * * ? *)")
    )

    code, stdout, _ = why("both-x")

    assert code == 0
    assert stdout.splitlines()[0] == f"both-x@{C} also runs on its schedule cron(0 6 * * ? *)."


def test_why_for_a_period_says_which_parent_runs_of_it_are_met_and_missing(
    central: Central,
) -> None:
    # Given pipeline-x on the case study's own correlate: period, and day 2 of the story
    correlated = load_org([SAMPLES / "case-study"]).by_ref[ParentRef("pipeline-x", C)]
    central.manager.registry.register(
        Registration(
            correlated.ref, state_machine_arn(correlated.ref), correlated.trigger.executions
        )
    )
    case_study_two_days(central)
    # When a user asks about 28 November
    code, stdout, _ = cli("why", "pipeline-x", "--period", "2026-11-28")
    # Then it opens with pipeline-x's state for the period, in its late alert's words
    assert code == 0
    lines = [" ".join(line.split()) for line in stdout.splitlines()]
    assert lines[0] == (
        f"pipeline-x@{C} for 2026-11-28: waiting — waiting on searches@{B} (failed)"
    )
    # And the answer names the period, the met listings run and the unmet searches run
    headline = lines[1]
    assert headline.startswith(f"pipeline-x@{C} has not run for 2026-11-28")
    assert f"met: listings@{A} 2026-11-28: SUCCEEDED" in headline
    assert f"unmet: waiting for searches@{B}: 2026-11-28 run FAILED" in headline
    # And about 27 November: it ran
    day_one = cli("why", "pipeline-x", "--period", "2026-11-27", "--json")[1]
    assert json.loads(day_one)["summary"].startswith(f"pipeline-x@{C} ran for 2026-11-27 1 time")
    # And a text that is no period is a usage error
    assert cli("why", "pipeline-x", "--period", "yesterday")[0] == 2
