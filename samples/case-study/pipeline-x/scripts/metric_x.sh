#!/usr/bin/env bash
# Metric X = searches per listing, per city, from the aggregates of listings (team A) and
# searches (team B). Both must be from the same day: a stale input fails the run loudly.
set -euo pipefail
work="${DPC_WORK_DIR:-${TMPDIR:-/tmp}/dpc-work}"
mkdir -p "$work/pipeline-x"
python3 - "$work" <<'PY'
import json, sys
from pathlib import Path

work = Path(sys.argv[1])
try:
    listings = json.loads((work / "listings" / "aggregate.json").read_text())
    searches = json.loads((work / "searches" / "aggregate.json").read_text())
except FileNotFoundError as missing:
    sys.exit(f"metric-x: input missing: {missing.filename} (run listings and searches first)")
if listings["day"] != searches["day"]:
    sys.exit(f"metric-x: inputs from different days: {listings['day']} and {searches['day']}")

metric = {
    city: round(searches["cities"].get(city, {}).get("searches", 0) / counts["listings"], 3)
    for city, counts in listings["cities"].items()
}
(work / "pipeline-x" / "metric_x.json").write_text(
    json.dumps({"day": listings["day"], "searches_per_listing": metric}, indent=2)
)
print(f"metric-x for {listings['day']}: {metric}")
PY
