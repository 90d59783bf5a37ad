"""`dpc demo` where dpc is installed without its repository's samples (they are not package
data): a clear error naming the way out, not a traceback from a missing folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dpc.cli.app import app
from dpc.sandbox import story


@pytest.fixture
def installed_without_samples(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # An installed dpc's samples/case-study would be next to site-packages: absent.
    monkeypatch.setattr(story, "CASE_STUDY", tmp_path / "site-packages" / "samples" / "case-study")
    monkeypatch.setenv("COLUMNS", "200")


def test_demo_outside_a_clone_says_it_runs_from_a_clone_or_with_org(
    installed_without_samples: None,
) -> None:
    result = CliRunner().invoke(app, ["demo"])

    assert result.exit_code == 1, result.output
    message = " ".join(result.output.split())
    assert "runs from a clone of the dpc repository" in message
    assert "--org DIR" in message
    assert "Traceback" not in result.output


def test_sandbox_up_outside_a_clone_gives_the_same_advice(
    installed_without_samples: None,
) -> None:
    result = CliRunner().invoke(app, ["sandbox", "up"], input="quit\n")

    assert result.exit_code == 1, result.output
    assert "--org DIR" in " ".join(result.output.split())


def test_demo_with_an_org_that_is_not_a_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--org", str(tmp_path / "nowhere")])

    assert result.exit_code == 2
    assert "not a folder" in result.output
