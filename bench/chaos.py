"""Chaos runs at scale: N seeds on the case study and on a ten-pipeline org, each a fresh
sandbox and one virtual day under AWS's documented faults (dpc.sandbox.chaos), compared with
the clean run of the same org. Prints, per seed, the faults drawn, whether the executions
(pipeline, period, status) are exactly the clean run's, and the wall time.

CI runs one seed per org (tests/e2e/test_chaos.py) and `dpc demo --chaos 7`; this runs as
many as asked (issue 11: twenty).

Usage: python bench/chaos.py [--seeds 20] [--days 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dpc.sandbox.chaos import Chaos  # noqa: E402
from dpc.sandbox.story import CASE_STUDY, run_days  # noqa: E402
from tests.e2e.chaos_org import write_org  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--days", type=int, default=1)
    args = parser.parse_args()
    ten = write_org(Path(tempfile.mkdtemp(prefix="dpc-chaos-org-")))
    failures = 0
    for label, org in (("case study", CASE_STUDY), ("ten pipelines", ten)):
        began = time.perf_counter()
        clean = run_days(org, days=args.days).executed
        print(f"{label}: clean run {len(clean)} executions in {time.perf_counter() - began:.1f}s")
        for seed in range(args.seeds):
            chaos = Chaos(seed)
            began = time.perf_counter()
            chaotic = run_days(org, days=args.days, chaos=chaos).executed
            same = chaotic == clean
            failures += not same
            verdict = (
                "same runs"
                if same
                else (
                    f"DIFFERENT: missing {sorted((Counter(clean) - Counter(chaotic)).elements())}, "
                    f"extra {sorted((Counter(chaotic) - Counter(clean)).elements())}"
                )
            )
            print(f"  {chaos.summary()} → {verdict} ({time.perf_counter() - began:.1f}s)")
    print(f"{failures} seed(s) of {2 * args.seeds} differ from the clean run")
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
