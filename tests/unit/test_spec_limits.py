"""What validate accepts, synth builds: names whose derived AWS names would not fit, and
step names that collide once made into construct ids, are located errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dpc.cli.app import app


def project(tmp_path: Path, name: str, steps: list[str]) -> Path:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "a.sh").write_text("echo ok\n")
    lines = [f"name: {name}", 'account: "111111111111"', "trigger:", "  schedule: {hour: 3}"]
    lines += ["steps:"] + [f"  - {{name: {step}, type: shell, script: s/a.sh}}" for step in steps]
    (tmp_path / "pipeline.yaml").write_text("\n".join(lines) + "\n")
    return tmp_path


def validate(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert "Traceback" not in result.output
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.parametrize(
    ("name", "steps", "message"),
    [
        (
            "p" * 52,
            ["run"],
            f"1:7: name: '{'p' * 52}' is 52 characters; the longest name dpc can deploy is 51",
        ),
        ("p", ["a-b", "a_b"], "7:12: steps[1].name: 'a_b' and 'a-b' (line 6) differ only in"),
        ("p", ["Load", "load"], "7:12: steps[1].name: 'load' and 'Load' (line 6)"),
        ("p", ["s" * 76], "6:12: steps[0].name: 'ssssssssssssssssssss…' is 76 characters"),
    ],
)
def test_names_synth_could_not_build_are_refused(
    tmp_path: Path, name: str, steps: list[str], message: str
) -> None:
    code, output = validate(project(tmp_path, name, steps))
    assert code == 1
    assert message in output


def test_the_longest_names_that_fit_are_accepted(tmp_path: Path) -> None:
    assert validate(project(tmp_path, "p" * 51, ["s" * 75, "a-b", "a.b"]))[0] == 0
