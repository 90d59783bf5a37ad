#!/usr/bin/env bash
# Metric X = searches per listing, per city, from the aggregates of listings (team A) and
# searches (team B) of the day this run processes (DPC_PERIOD, set by dpc; a run by hand:
# the day of DPC_RUN_TIME, else today). A missing or stale input fails the run loudly.
set -euo pipefail
work="${DPC_WORK_DIR:-${TMPDIR:-/tmp}/dpc-work}"
python3 - "$work" <<'PY'
import json, os, sys
from datetime import datetime, timezone
from pathlib import Path

work = Path(sys.argv[1])
run_time = os.environ.get("DPC_RUN_TIME")
moment = datetime.fromisoformat(run_time.replace("Z", "+00:00")) if run_time else None
day = os.environ.get("DPC_PERIOD") or (moment or datetime.now(timezone.utc)).date().isoformat()
try:
    listings = json.loads((work / "listings" / day / "aggregate.json").read_text())
    searches = json.loads((work / "searches" / day / "aggregate.json").read_text())
except FileNotFoundError as missing:
    sys.exit(f"metric-x: input missing: {missing.filename} (run listings and searches first)")
if listings["day"] != searches["day"]:
    sys.exit(f"metric-x: inputs from different days: {listings['day']} and {searches['day']}")

metric = {
    city: round(searches["cities"].get(city, {}).get("searches", 0) / counts["listings"], 3)
    for city, counts in listings["cities"].items()
}
out = work / "pipeline-x" / day
out.mkdir(parents=True, exist_ok=True)
(out / "metric_x.json").write_text(
    json.dumps({"day": listings["day"], "searches_per_listing": metric}, indent=2)
)
print(f"metric-x for {listings['day']}: {metric}")
PY
