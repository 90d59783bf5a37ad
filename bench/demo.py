"""Wall time of `dpc demo` on this machine, split into synthesis, deployment and the run.

Each repetition is a fresh `dpc demo --json --timings` process, as a user runs it (Python
and jsii start-up included in the total). Targets (issue 5): under 2 minutes in total, the
run phase (two virtual days) under 10 seconds.

Usage: python bench/demo.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DPC = Path(sys.executable).with_name("dpc")
TIMINGS = re.compile(r"timings: synth ([\d.]+)s, deploy ([\d.]+)s, run ([\d.]+)s, total ([\d.]+)s")


def once() -> dict[str, float]:
    began = time.perf_counter()
    done = subprocess.run(
        [str(DPC), "demo", "--json", "--timings"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - began
    found = TIMINGS.search(done.stderr)
    if found is None:
        raise SystemExit(f"no timings in the demo's stderr:\n{done.stderr[-2000:]}")
    synth, deploy, run, total = (float(x) for x in found.groups())
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    return {
        "synth": synth,
        "deploy": deploy,
        "run": run,
        "in_process": total,
        "wall": wall,
        "events": float(len(lines)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    runs = [once() for _ in range(repeat)]
    print(f"dpc demo, {repeat} run(s), seconds (median; min-max):")
    for key in ("synth", "deploy", "run", "in_process", "wall"):
        values = [r[key] for r in runs]
        print(
            f"  {key:<10} {statistics.median(values):6.1f}  ({min(values):.1f}-{max(values):.1f})"
        )
    print(f"  timeline lines per run: {int(runs[0]['events'])}")
    wall, run = (
        statistics.median(r["wall"] for r in runs),
        statistics.median(r["run"] for r in runs),
    )
    print(f"  target total < 120 s: {'met' if wall < 120 else 'MISSED'}")
    print(f"  target run < 10 s: {'met' if run < 10 else 'MISSED'}")


if __name__ == "__main__":
    main()
