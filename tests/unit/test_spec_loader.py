"""pipeline.yaml → the frozen models other parts of dpc build on."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from dpc.spec.errors import SpecError
from dpc.spec.loader import load_pipeline
from dpc.spec.model import Pipeline
from dpc.triggers.model import Condition, Item, ParentRef
from dpc.triggers.periods import PeriodSpec

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def load(tmp_path: Path, text: str) -> Pipeline:
    (tmp_path / "run.sh").write_text("echo ok\n")
    source = tmp_path / "pipeline.yaml"
    source.write_text(textwrap.dedent(text))
    return load_pipeline(tmp_path)


def scheduled(tmp_path: Path, schedule: str) -> str:
    pipeline = load(
        tmp_path,
        f"name: p\ntrigger:\n  schedule: {schedule}\n"
        "steps: [{name: s, type: shell, script: run.sh}]\n",
    )
    assert pipeline.trigger.schedule is not None
    return str(pipeline.trigger.schedule.expression)


@pytest.mark.parametrize(
    ("schedule", "expression"),
    [
        ("{hour: 3}", "cron(0 3 * * ? *)"),
        ("{minute: 15, hour: '8-18', weekDay: MON-FRI}", "cron(15 8-18 ? * MON-FRI *)"),
        ("{minute: 0/30}", "cron(0/30 * * * ? *)"),
        ("{hour: 4, day: L}", "cron(0 4 L * ? *)"),
        ("{hour: 2, month: JAN, year: 2027}", "cron(0 2 * JAN ? 2027)"),
        ("{cron: '0 3 * * ? *'}", "cron(0 3 * * ? *)"),
        ("{cron: 'cron(0 3 * * ? *)'}", "cron(0 3 * * ? *)"),
        ("{rate: 1 hour}", "rate(1 hour)"),
        ("{rate: 15 minutes}", "rate(15 minutes)"),
    ],
)
def test_schedule_becomes_a_full_eventbridge_expression(
    tmp_path: Path, schedule: str, expression: str
) -> None:
    assert scheduled(tmp_path, schedule) == expression


def test_case_study_pipeline_x_model() -> None:
    pipeline = load_pipeline(SAMPLES / "case-study" / "pipeline-x")
    assert pipeline.ref == ParentRef("pipeline-x", "333333333333")
    assert pipeline.trigger.schedule is None
    assert pipeline.trigger.executions == Condition(
        all_of=(
            Item(ParentRef("listings", "111111111111"), frozenset({"SUCCEEDED"})),
            Item(ParentRef("searches", "222222222222"), frozenset({"SUCCEEDED"})),
        ),
        correlate="period",
        rerun="retrigger",
        keep=timedelta(days=35),
    )
    assert pipeline.period == PeriodSpec("day", timedelta(0))
    assert [step.name for step in pipeline.steps] == ["metric-x", "publish"]
    assert pipeline.timeout == timedelta(hours=6)
    assert pipeline.notifications is not None
    assert pipeline.notifications.type == "FULL_EXECUTION"
    assert pipeline.tags == {"team": "rent-journey"}
    assert pipeline.project_dir == SAMPLES / "case-study" / "pipeline-x"


def test_case_study_listings_runs_at_three() -> None:
    pipeline = load_pipeline(SAMPLES / "case-study" / "listings" / "pipeline.yaml")
    assert pipeline.trigger.schedule is not None
    assert pipeline.trigger.schedule.expression == "cron(0 3 * * ? *)"
    assert pipeline.account == "111111111111"


CHILD = """\
name: child
{account}
trigger:
  executions:
    anyOf:
      - name: parent
        status: [SUCCESS, SUCCEEDED, FAILED]
      - {{name: other, account: "111111111111"}}
    operator: OR
    within: 1d12h
steps:
  - {{name: s, type: spark, script: run.sh, args: ["--day", "2026-11-27"]}}
"""


def test_item_account_defaults_to_the_pipeline_account(tmp_path: Path) -> None:
    pipeline = load(tmp_path, CHILD.format(account='account: "333333333333"'))
    condition = pipeline.trigger.executions
    assert condition.any_of == (
        Item(ParentRef("parent", "333333333333"), frozenset({"SUCCEEDED", "FAILED"})),
        Item(ParentRef("other", "111111111111"), frozenset({"SUCCEEDED"})),
    )
    assert condition.operator == "OR"
    assert condition.within == timedelta(days=1, hours=12)


def test_without_account_items_default_to_empty_until_with_account(tmp_path: Path) -> None:
    pipeline = load(tmp_path, CHILD.format(account=""))
    assert pipeline.account is None
    assert pipeline.trigger.executions.any_of[0].parent == ParentRef("parent", "")
    deployed = pipeline.with_account("444444444444")
    assert deployed.trigger.executions.parents == (
        ParentRef("parent", "444444444444"),
        ParentRef("other", "111111111111"),
    )


def test_defaults_for_optional_sections(tmp_path: Path) -> None:
    pipeline = load(
        tmp_path,
        """\
        name: p
        cluster: {core: {instanceType: r5.2xlarge}}
        steps: [{name: s, type: shell, script: run.sh}]
        notifications: {targets: [{channel: EMAIL, addresses: [a@example.com]}]}
        """,
    )
    assert pipeline.trigger.schedule is None and pipeline.trigger.executions is None
    assert pipeline.cluster.release == "emr-7.5.0"
    assert pipeline.cluster.master.instance_type == "m5.xlarge"
    assert (pipeline.cluster.core.instance_type, pipeline.cluster.core.count) == ("r5.2xlarge", 2)
    assert pipeline.notifications.type == "ON_FAILURE"
    assert pipeline.timeout is None
    assert pipeline.description == ""


def test_load_pipeline_raises_with_every_finding(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as raised:
        load(tmp_path, "name: Bad\nsteps: []\n")
    lines = str(raised.value).splitlines()
    assert lines == [str(finding) for finding in raised.value.findings]
    assert [finding.field for finding in raised.value.findings] == ["name", "steps"]
    assert raised.value.exit_code == 1


def test_load_pipeline_on_a_folder_without_pipeline_yaml(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as raised:
        load_pipeline(tmp_path)
    assert str(raised.value) == (
        f"{tmp_path / 'pipeline.yaml'}: not found; a project needs a pipeline.yaml"
    )


BASE = "name: p\naccount: '111111111111'\nsteps: [{name: s, type: shell, script: run.sh}]\n"


def test_dependents_accounts_are_read_and_default_to_every_account(tmp_path: Path) -> None:
    # Without dependents: every account of the organization may depend on the pipeline
    assert load(tmp_path, BASE).dependents is None
    listed = load(tmp_path, BASE + "dependents:\n  accounts: ['222222222222', '333333333333']\n")
    assert listed.dependents == frozenset({"222222222222", "333333333333"})
    # An empty list: only the pipeline's own account
    assert load(tmp_path, BASE + "dependents: {accounts: []}\n").dependents == frozenset()


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        (
            "dependents:\n  accounts: [222222222222]\n",
            5,
            "dependents.accounts[0]",
            'expected text, got the number 222222222222; put it in quotes: "222222222222"',
        ),
        (
            "dependents:\n  accounts: ['42']\n",
            5,
            "dependents.accounts[0]",
            "'42' is not valid (allowed: exactly 12 digits, quoted)",
        ),
        (
            "dependents:\n  acounts: ['222222222222']\n",
            5,
            "dependents.acounts",
            "unknown field; did you mean 'accounts'? (allowed here: accounts)",
        ),
        (
            "dependents:\n  accounts: ['222222222222', '222222222222']\n",
            5,
            "dependents.accounts",
            "lists the same value more than once",
        ),
        (
            "dependents: ['222222222222']\n",
            4,
            "dependents",
            'expected a mapping, got a list (for example: {"accounts": ["333333333333"]})',
        ),
    ],
)
def test_bad_dependents_are_located_errors(
    tmp_path: Path, text: str, line: int, field: str, message: str
) -> None:
    with pytest.raises(SpecError) as refused:
        load(tmp_path, BASE + text)
    found = [(f.line, f.field, f.message) for f in refused.value.findings]
    assert (line, field, message) in found
