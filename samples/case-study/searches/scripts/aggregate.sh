#!/usr/bin/env bash
# Count the day's searches per city from the search logs the search service lands, and write
# the aggregate where pipeline-x reads it.
#   DPC_PERIOD       the day this run processes (set by dpc for every run, e.g. 2026-11-27):
#                    it picks the input. Unset or empty (a run by hand): the day of
#                    DPC_RUN_TIME (the run's time, ISO 8601), else today, UTC.
#   DPC_LANDING_DIR  where upstream systems drop raw input; this step reads
#                    search-logs/<YYYY-MM-DD>.jsonl there. On AWS it is the landing bucket and
#                    this read is an S3 GetObject. Unset: ${TMPDIR:-/tmp}/dpc-landing.
#   DPC_WORK_DIR     the shared data folder (on AWS: the data bucket).
# When the day's search logs have not arrived, the step fails: exit 1, the reason on stderr.
set -euo pipefail
landing="${DPC_LANDING_DIR:-${TMPDIR:-/tmp}/dpc-landing}"
out="${DPC_WORK_DIR:-${TMPDIR:-/tmp}/dpc-work}/searches"
python3 - "$landing" "$out" <<'PY'
import json, os, sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

landing, out = Path(sys.argv[1]), Path(sys.argv[2])
run_time = os.environ.get("DPC_RUN_TIME")
moment = datetime.fromisoformat(run_time.replace("Z", "+00:00")) if run_time else None
day = os.environ.get("DPC_PERIOD") or (moment or datetime.now(timezone.utc)).date().isoformat()

logs = Path("search-logs") / f"{day}.jsonl"
try:
    lines = (landing / logs).read_text().splitlines()
except FileNotFoundError:
    sys.exit(f"searches: input missing: the search logs of {day} have not arrived ({logs})")
searches = Counter(json.loads(line)["city"] for line in lines if line.strip())

out.mkdir(parents=True, exist_ok=True)
path = out / day / "aggregate.json"
path.parent.mkdir(parents=True, exist_ok=True)
cities = {city: {"searches": count} for city, count in sorted(searches.items())}
path.write_text(json.dumps({"day": day, "cities": cities}, indent=2))
print(f"searches: {sum(searches.values())} searches of {day} in {len(cities)} cities -> {path}")
PY
