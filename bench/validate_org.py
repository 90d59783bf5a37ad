"""`dpc validate` on a generated org of 1,000 pipelines in 20 accounts (a DAG: every pipeline
after the first 50 waits for 1-3 earlier ones). Prints seconds, in-process and as a command."""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dpc.spec.loader import validate_paths

PIPELINES = 1_000
ACCOUNTS = [f"{index:012d}" for index in range(100000000001, 100000000021)]
DPC = Path(sys.executable).parent / "dpc"


def generate(root: Path) -> None:
    rng = random.Random(7)
    defined: list[tuple[str, str]] = []
    for index in range(PIPELINES):
        name, account = f"pipeline-{index:04d}", rng.choice(ACCOUNTS)
        folder = root / account / name
        (folder / "scripts").mkdir(parents=True)
        (folder / "scripts" / "run.sh").write_text("#!/usr/bin/env bash\necho run\n")
        lines = [f"name: {name}", f'account: "{account}"', "trigger:"]
        if index < 50:
            lines += ["  schedule:", f"    hour: {index % 24}"]
        else:
            lines += ["  executions:", "    allOf:"]
            for parent, parent_account in rng.sample(defined, rng.randint(1, 3)):
                lines.append(
                    f'      - {{name: {parent}, account: "{parent_account}", status: [SUCCESS]}}'
                )
            lines.append('    reset: {cron: "0 0 * * ? *"}')
        lines += [
            "steps:",
            "  - {name: run, type: shell, script: scripts/run.sh}",
            "notifications:",
            "  targets: [{channel: SLACK, addresses: [alerts]}]",
            "timeout: 2h",
        ]
        (folder / "pipeline.yaml").write_text("\n".join(lines) + "\n")
        defined.append((name, account))


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        generate(root)
        start = time.perf_counter()
        validation = validate_paths([root])
        in_process = time.perf_counter() - start
        assert validation.ok, validation.findings[:3]
        assert len(validation.pipelines) == PIPELINES

        start = time.perf_counter()
        result = subprocess.run([str(DPC), "validate", str(root)], capture_output=True, check=False)
        command = time.perf_counter() - start
        assert result.returncode == 0, result.stdout[-500:]

    print(f"pipelines: {PIPELINES} in {len(ACCOUNTS)} accounts, valid")
    print(
        f"validate_paths (in process): {in_process:.2f} s "
        f"({in_process / PIPELINES * 1000:.2f} ms per pipeline)"
    )
    print(f"dpc validate (whole command): {command:.2f} s")


if __name__ == "__main__":
    main()
