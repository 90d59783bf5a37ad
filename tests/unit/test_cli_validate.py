"""`dpc validate`, `dpc schema` and `dpc create-project` as a user runs them (CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dpc.cli.app import app

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SCHEMA = Path(__file__).resolve().parents[2] / "dpc" / "schemas" / "pipeline.schema.json"
runner = CliRunner()


def write_bad_project(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "pipeline.yaml"
    source.write_text(
        "name: bad\ntrigger:\n  schedule: {hour: 24}\n"
        "steps:\n  - {name: s, type: shell, script: gone.sh}\n"
    )
    return source


def test_validate_case_study_lists_each_valid_pipeline() -> None:
    result = runner.invoke(app, ["validate", str(SAMPLES / "case-study")])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"ok  {SAMPLES / 'case-study' / name / 'pipeline.yaml'}  {name}@{account}"
        for name, account in (
            ("listings", "111111111111"),
            ("pipeline-x", "333333333333"),
            ("searches", "222222222222"),
        )
    ]
    assert "3 pipelines valid" in result.stderr


def test_validate_invalid_project_prints_located_findings_and_exits_1(tmp_path: Path) -> None:
    source = write_bad_project(tmp_path / "bad")
    result = runner.invoke(app, ["validate", str(tmp_path / "bad")])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{source}:3:20: trigger.schedule.hour: hour field: 24 is out of range (allowed 0-23)",
        f"{source}:5:36: steps[0].script: file not found: {tmp_path / 'bad' / 'gone.sh'}",
    ]
    assert "2 problems in 1 file" in result.stderr
    assert "Traceback" not in result.output


def test_validate_json_gives_findings_as_data(tmp_path: Path) -> None:
    source = write_bad_project(tmp_path)
    result = runner.invoke(app, ["validate", "--json", str(source)])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["valid"] is False
    assert data["files"] == [str(source)]
    assert data["findings"][0] == {
        "file": str(source),
        "line": 3,
        "column": 20,
        "field": "trigger.schedule.hour",
        "message": "hour field: 24 is out of range (allowed 0-23)",
    }


def test_validate_json_describes_valid_pipelines() -> None:
    result = runner.invoke(app, ["validate", "--json", str(SAMPLES / "case-study")])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["valid"] is True and data["findings"] == []
    by_name = {pipeline["name"]: pipeline for pipeline in data["pipelines"]}
    assert by_name["listings"]["schedule"] == "cron(0 3 * * ? *)"
    assert by_name["pipeline-x"]["parents"] == [
        {"name": "listings", "account": "111111111111"},
        {"name": "searches", "account": "222222222222"},
    ]


def test_validate_without_path_checks_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_bad_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 1
    assert result.stdout.startswith("pipeline.yaml:3:20: trigger.schedule.hour:")


def test_validate_nonexistent_path_is_bad_usage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["validate", "nope"])
    assert result.exit_code == 2
    assert "'nope' does not exist" in result.output


def test_validate_org_folder_reports_cycles(tmp_path: Path) -> None:
    for name, parent in (("a", "b"), ("b", "a")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "run.sh").write_text("echo\n")
        (tmp_path / name / "pipeline.yaml").write_text(
            f"name: {name}\ntrigger: {{executions: {{allOf: [{{name: {parent}}}]}}}}\n"
            "steps: [{name: s, type: shell, script: run.sh}]\n"
        )
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stdout.count("dependency cycle: a → b → a") == 2


def test_help_shows_examples() -> None:
    assert "dpc validate samples/case-study" in runner.invoke(app, ["validate", "--help"]).stdout
    assert "dpc schema --path" in runner.invoke(app, ["schema", "--help"]).stdout
    assert "dpc create-project -n listings" in runner.invoke(app, ["create-project", "-h"]).stdout
    assert "validate" in runner.invoke(app, ["--help"]).stdout


def test_schema_prints_the_json_schema() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == json.loads(SCHEMA.read_text())


def test_schema_path_points_at_the_installed_file() -> None:
    result = runner.invoke(app, ["schema", "--path"])
    assert Path(result.stdout.strip()).samefile(SCHEMA)


def test_create_project_output_validates(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["create-project", "-n", "orders", "--dir", str(tmp_path), "--account", "123456789012"]
    )
    assert result.exit_code == 0, result.output
    project = tmp_path / "orders"
    assert sorted(
        str(path.relative_to(project)) for path in project.rglob("*") if path.is_file()
    ) == [
        ".gitignore",
        "README.md",
        "jobs/aggregate.py",
        "pipeline.yaml",
        "scripts/export.sh",
    ]
    first_line = (project / "pipeline.yaml").read_text().splitlines()[0]
    assert first_line.startswith("# yaml-language-server: $schema=")
    assert Path(first_line.split("=", 1)[1]).samefile(SCHEMA)
    assert (project / "scripts" / "export.sh").stat().st_mode & 0o111
    compile((project / "jobs" / "aggregate.py").read_text(), "aggregate.py", "exec")

    validated = runner.invoke(app, ["validate", "--json", str(project)])
    assert validated.exit_code == 0, validated.output
    (pipeline,) = json.loads(validated.stdout)["pipelines"]
    assert (pipeline["name"], pipeline["account"]) == ("orders", "123456789012")


def test_create_project_without_account_leaves_it_to_the_deploy(tmp_path: Path) -> None:
    assert (
        runner.invoke(app, ["create-project", "-n", "orders", "--dir", str(tmp_path)]).exit_code
        == 0
    )
    validated = runner.invoke(app, ["validate", "--json", str(tmp_path / "orders")])
    assert json.loads(validated.stdout)["pipelines"][0]["account"] is None


def test_create_project_refuses_an_existing_folder(tmp_path: Path) -> None:
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["create-project", "-n", "orders", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "already exists" in result.stderr
    assert [path.name for path in (tmp_path / "orders").iterdir()] == ["keep.txt"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["-n", "Orders"], "invalid name 'Orders': use a lowercase letter, then lowercase"),
        (["-n", "orders", "--account", "12345"], "invalid account '12345': an AWS account id"),
    ],
)
def test_create_project_rejects_bad_arguments_with_the_rule(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    result = runner.invoke(app, ["create-project", *arguments, "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []
