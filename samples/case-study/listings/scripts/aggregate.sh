#!/usr/bin/env bash
# Count the day's listings per city and their average price, from the listings export the
# listings service lands; write the day's aggregate where pipeline-x reads it.
#   DPC_PERIOD       the day this run processes (set by dpc for every run, e.g. 2026-11-27):
#                    it picks the input. Unset or empty (a run by hand): the day of
#                    DPC_RUN_TIME (the run's time, ISO 8601), else today, UTC.
#   DPC_LANDING_DIR  where upstream systems drop raw input; this step reads
#                    listings-export/<YYYY-MM-DD>.csv there. On AWS it is the landing bucket
#                    and this read is an S3 GetObject. Unset: ${TMPDIR:-/tmp}/dpc-landing.
#   DPC_WORK_DIR     the shared data folder (on AWS: the data bucket).
# When the day's export has not arrived, the step fails: exit 1, the reason on stderr.
set -euo pipefail
landing="${DPC_LANDING_DIR:-${TMPDIR:-/tmp}/dpc-landing}"
out="${DPC_WORK_DIR:-${TMPDIR:-/tmp}/dpc-work}/listings"
python3 - "$landing" "$out" <<'PY'
import csv, json, os, sys
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

landing, out = Path(sys.argv[1]), Path(sys.argv[2])
run_time = os.environ.get("DPC_RUN_TIME")
moment = datetime.fromisoformat(run_time.replace("Z", "+00:00")) if run_time else None
day = os.environ.get("DPC_PERIOD") or (moment or datetime.now(timezone.utc)).date().isoformat()

export = Path("listings-export") / f"{day}.csv"
try:
    with open(landing / export, newline="") as file:
        listings = list(csv.DictReader(file))
except FileNotFoundError:
    sys.exit(f"listings: input missing: the listings export of {day} has not arrived ({export})")

totals = defaultdict(lambda: {"listings": 0, "price_sum": 0})
for listing in listings:
    totals[listing["city"]]["listings"] += 1
    totals[listing["city"]]["price_sum"] += int(listing["price"])
aggregate = {
    city: {"listings": t["listings"], "avg_price": round(t["price_sum"] / t["listings"], 2)}
    for city, t in sorted(totals.items())
}
out.mkdir(parents=True, exist_ok=True)
path = out / day / "aggregate.json"
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(json.dumps({"day": day, "cities": aggregate}, indent=2))
print(f"listings: {len(listings)} listings of {day} in {len(aggregate)} cities -> {path}")
PY
