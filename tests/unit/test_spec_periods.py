"""pipeline.yaml's periods (§5b): what validate accepts, and each refusal located."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dpc.cli.app import app
from dpc.spec.loader import load_pipeline

A, C = "111111111111", "333333333333"


def write(root: Path, name: str, account: str, body: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "run.sh").write_text("echo ok\n")
    (folder / "pipeline.yaml").write_text(
        f'name: {name}\naccount: "{account}"\n{body}'
        "steps:\n  - {name: s, type: shell, script: run.sh}\n"
    )
    return folder / "pipeline.yaml"


def child(executions: str, period: str = "") -> str:
    return f"trigger:\n  executions:\n{executions}{period}"


def validate(*paths: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["validate", *map(str, paths)])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_a_correlated_child_reads_into_the_model(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        "x",
        C,
        child(
            "    allOf:\n"
            '      - {name: p, account: "111111111111", every: true}\n'
            "    correlate: period\n    rerun: ignore\n    keep: 7d\n",
            "period: {unit: day, offset: -1d}\n",
        ),
    )
    pipeline = load_pipeline(spec)
    condition = pipeline.trigger.executions
    assert condition is not None
    assert (condition.correlate, condition.rerun, condition.keep) == (
        "period",
        "ignore",
        timedelta(days=7),
    )
    assert condition.all_of[0].every
    assert pipeline.period.offset == -timedelta(days=1)
    assert condition.period == pipeline.period


@pytest.mark.parametrize(
    ("executions", "period", "message"),
    [
        (
            '    allOf: [{name: p, account: "111111111111"}]\n    correlate: period\n'
            "    within: 24h\n",
            "",
            "7:5: trigger.executions.within: within does not go with correlate: period",
        ),
        (
            '    allOf: [{name: p, account: "111111111111"}]\n    correlate: period\n'
            '    reset: {cron: "0 0 * * ? *"}\n',
            "",
            "7:5: trigger.executions.reset: reset does not go with correlate: period",
        ),
        (
            '    allOf:\n      - {name: p, account: "111111111111", every: true}\n',
            "",
            "6:44: trigger.executions.allOf[0].every: every needs correlate: period",
        ),
        (
            '    allOf: [{name: p, account: "111111111111"}]\n    rerun: ignore\n',
            "",
            "6:5: trigger.executions.rerun: rerun needs correlate: period",
        ),
        (
            '    allOf: [{name: p, account: "111111111111"}]\n',
            "period: {unit: fortnight}\n",
            "period.unit: ",
        ),
        (
            '    allOf: [{name: p, account: "111111111111"}]\n',
            "period: {unit: day, offset: yesterday}\n",
            "period.offset: ",
        ),
    ],
)
def test_options_that_do_not_fit_are_located_errors(
    tmp_path: Path, executions: str, period: str, message: str
) -> None:
    spec = write(tmp_path, "x", C, child(executions, period))
    code, output = validate(spec)
    assert code == 1
    assert message in output


@pytest.mark.parametrize(
    ("parent_unit", "child_unit", "every", "message"),
    [
        ("day", "hour", "", "parent 'p@111111111111' runs per day, coarser than this pipeline's"),
        ("hour", "day", "", "runs per hour, finer than this pipeline's day: add every: true"),
        ("week", "month", ", every: true", "weeks do not nest in months"),
    ],
)
def test_parent_units_must_nest_in_a_correlated_childs_unit(
    tmp_path: Path, parent_unit: str, child_unit: str, every: str, message: str
) -> None:
    write(
        tmp_path,
        "p",
        A,
        f"trigger:\n  schedule: {{hour: 3}}\nperiod: {{unit: {parent_unit}}}\n",
    )
    write(
        tmp_path,
        "x",
        C,
        child(
            f'    allOf:\n      - {{name: p, account: "{A}"{every}}}\n    correlate: period\n',
            f"period: {{unit: {child_unit}}}\n",
        ),
    )
    code, output = validate(tmp_path)
    assert code == 1
    assert "x/pipeline.yaml:6:9: trigger.executions.allOf[0]: " in output
    assert message in " ".join(output.split())


def test_an_hourly_parent_with_every_and_a_daily_child_validate(tmp_path: Path) -> None:
    write(tmp_path, "p", A, "trigger:\n  schedule: {rate: 1 hour}\nperiod: {unit: hour}\n")
    write(
        tmp_path,
        "x",
        C,
        child(
            f'    allOf:\n      - {{name: p, account: "{A}", every: true}}\n    correlate: period\n'
        ),
    )
    assert validate(tmp_path)[0] == 0
