"""§5 rule 8 on the embedded AWS: a reset at midnight means yesterday's success never
completes today's pair. Two children wait for the same parents; only one has the reset.

p1 runs on day 1 only and succeeds; p2 fails on day 1 and succeeds on day 2. The child
without a reset starts on day 2 (p1's success is still its latest); the child with the
midnight reset does not, because the deployed trigger manager cleared p1 at midnight of
the virtual clock.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from dpc.cli.app import app

pytestmark = pytest.mark.slow

PIPELINES = {
    "p1": ("111111111111", 'schedule:\n    cron: "0 3 27 11 ? 2026"  # day 1 only'),
    "p2": ("222222222222", "schedule:\n    hour: 5"),
    "with-reset": (
        "333333333333",
        "executions:\n"
        "    allOf:\n"
        '      - {name: p1, account: "111111111111", status: [SUCCESS]}\n'
        '      - {name: p2, account: "222222222222", status: [SUCCESS]}\n'
        '    reset: {cron: "0 0 * * ? *"}',
    ),
    "without-reset": (
        "333333333333",
        "executions:\n"
        "    allOf:\n"
        '      - {name: p1, account: "111111111111", status: [SUCCESS]}\n'
        '      - {name: p2, account: "222222222222", status: [SUCCESS]}',
    ),
}


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    org = tmp_path_factory.mktemp("org")
    for name, (account, trigger) in PIPELINES.items():
        project = org / name
        (project / "scripts").mkdir(parents=True)
        (project / "scripts" / "run.sh").write_text(f"#!/usr/bin/env bash\necho {name}\n")
        (project / "pipeline.yaml").write_text(
            f'name: {name}\naccount: "{account}"\ntrigger:\n  {trigger}\n'
            "steps:\n  - {name: run, type: shell, script: scripts/run.sh}\n"
        )
    args = ["sandbox", "run", str(org), "--days", "2", "--fail", "p2:1", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def _outcomes(story: list[dict[str, Any]], pipeline: str) -> list[tuple[str, str]]:
    return [
        (e["time"][:10], e["status"])
        for e in story
        if e.get("pipeline") == pipeline and e.get("status") not in (None, "RUNNING")
    ]


def test_parents_as_staged(story):
    assert _outcomes(story, "p1") == [("2026-11-27", "SUCCEEDED")]
    assert _outcomes(story, "p2") == [("2026-11-27", "FAILED"), ("2026-11-28", "SUCCEEDED")]


def test_without_a_reset_yesterdays_success_still_counts(story):
    assert _outcomes(story, "without-reset") == [("2026-11-28", "SUCCEEDED")]
    (trigger,) = [
        e["trigger"] for e in story if e.get("trigger", {}).get("pipeline") == "without-reset"
    ]
    assert {(c["pipeline"], c["time"][:10]) for c in trigger["causes"]} == {
        ("p1", "2026-11-27"),
        ("p2", "2026-11-28"),
    }


def test_the_midnight_reset_keeps_yesterdays_success_from_completing_todays_pair(story):
    assert _outcomes(story, "with-reset") == []
    assert not [e for e in story if e.get("trigger", {}).get("pipeline") == "with-reset"]
