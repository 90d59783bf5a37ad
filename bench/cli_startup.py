"""Wall time of `dpc --help` and `dpc validate samples/case-study` (target: well under 1 s),
and proof that neither imports boto3, aws_cdk or moto."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DPC = Path(sys.executable).parent / "dpc"
RUNS = 10
HEAVY = {"boto3", "botocore", "aws_cdk", "jsii", "moto"}


def wall_times(command: list[str]) -> list[float]:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return times


def heavy_imports(arguments: list[str]) -> set[str]:
    log = subprocess.run(
        [sys.executable, "-X", "importtime", str(DPC), *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stderr
    names = {line.split("|")[-1].strip().split(".")[0] for line in log.splitlines() if "|" in line}
    return names & HEAVY


def main() -> None:
    cases = {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "dpc --help": [str(DPC), "--help"],
        "dpc validate samples/case-study": [str(DPC), "validate", "samples/case-study"],
    }
    print(f"{'command':<36} {'median':>8} {'min':>8} {'max':>8}   ({RUNS} runs)")
    for label, command in cases.items():
        times = wall_times(command)
        print(
            f"{label:<36} {statistics.median(times):>7.3f}s {min(times):>7.3f}s {max(times):>7.3f}s"
        )
    for arguments in (["--help"], ["validate", "samples/case-study"]):
        heavy = heavy_imports(arguments)
        print(f"heavy imports in dpc {' '.join(arguments)}: {', '.join(sorted(heavy)) or 'none'}")


if __name__ == "__main__":
    main()
