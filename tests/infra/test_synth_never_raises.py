"""Property: every pipeline.yaml that validate accepts, synth builds (no traceback).

Names up to what the schema allows (63-character pipelines, 80-character steps, '-', '_' and '.'
in step names), both step types, schedules and correlated triggers, are generated as YAML,
validated, and synthesized with cdk-nag on, in one process.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dpc.spec.loader import load_pipeline, validate_paths

pytestmark = pytest.mark.slow

STEP_NAME = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}", fullmatch=True)
PIPELINE_NAME = st.from_regex(r"[a-z][a-z0-9-]{0,62}", fullmatch=True)


@st.composite
def projects(draw: st.DrawFn) -> str:
    name = draw(PIPELINE_NAME)
    steps = draw(st.lists(STEP_NAME, min_size=1, max_size=4, unique_by=str.lower))
    lines = [f"name: {name}", 'account: "111111111111"', "trigger:"]
    if draw(st.booleans()):
        lines.append("  schedule: {hour: 3}")
    else:
        lines += [
            "  executions:",
            '    allOf: [{name: parent-p, account: "222222222222"}]',
            f"    correlate: {draw(st.sampled_from(['latest', 'period']))}",
        ]
    lines.append(f"period: {{unit: {draw(st.sampled_from(['hour', 'day', 'week', 'month']))}}}")
    lines.append("steps:")
    for step in steps:
        kind = draw(st.sampled_from(["shell", "spark"]))
        script = "s/a.sh" if kind == "shell" else "s/job.py"
        lines.append(f'  - {{name: "{step}", type: {kind}, script: {script}, args: ["--x"]}}')
    return "\n".join(lines) + "\n"


def plain(name: str, steps: list[str]) -> str:
    lines = [f"name: {name}", 'account: "111111111111"', "trigger:", "  schedule: {hour: 3}"]
    lines += ["steps:"] + [f'  - {{name: "{s}", type: shell, script: s/a.sh}}' for s in steps]
    return "\n".join(lines) + "\n"


def test_a_pipeline_validate_accepts_always_synthesizes() -> None:
    built: list[str] = []

    @settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(text=projects())
    # Just past each limit, and just within it (what the generator may rarely reach).
    @example(text=plain("p" * 52, ["run"]))
    @example(text=plain("p" * 51, ["s" * 75]))
    @example(text=plain("p", ["s" * 76]))
    @example(text=plain("p", ["a-b", "a_b"]))
    def synthesizes(text: str) -> None:
        if build(text):
            built.append(text)

    synthesizes()
    assert built, "every generated pipeline was refused: the generator tests nothing"


def build(text: str) -> bool:
    """Validate, and synthesize what validate accepts; False when validate refused it."""
    from dpc.infra.app import synth_pipelines

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "s").mkdir()
        (root / "s" / "a.sh").write_text("echo ok\n")
        (root / "s" / "job.py").write_text("print('ok')\n")
        (root / "pipeline.yaml").write_text(text)
        validation = validate_paths([root])
        if validation.findings:  # validate refused it: nothing for synth to build
            return False
        synthesis = synth_pipelines([load_pipeline(root)], root / "out")
        assert synthesis.stacks
        return True
