"""samples/advanced: a team's own CDK app adding a Hive step to a dpc pipeline."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from infra_helpers import state_machine_definition

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "advanced" / "app.py"


def test_custom_step_runs_after_the_yaml_steps_and_still_terminates_on_failure(
    tmp_path: Path,
) -> None:
    spec = importlib.util.spec_from_file_location("advanced_sample_app", SAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    synthesis = module.build(tmp_path)

    (stack,) = synthesis.stacks
    states = state_machine_definition(json.loads(stack.template_file.read_text()))["States"]
    assert states["Step score"]["Next"] == "Step publish"
    hive = states["Step publish"]
    args = hive["Parameters"]["Step"]["HadoopJarStep"]["Args"]
    assert args[:4] == ["hive-script", "--run-hive-script", "--args", "-f"]
    assert args[4].startswith("s3://dpc-assets-") and args[4].endswith(".hql")
    assert hive["Next"] == "TerminateCluster"
    assert states[hive["Catch"][0]["Next"]]["Resource"].endswith("terminateCluster.sync")
