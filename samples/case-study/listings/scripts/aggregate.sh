#!/usr/bin/env bash
# Count today's listings per city and their average price; write the aggregate where the
# downstream pipeline-x reads it. DPC_WORK_DIR is the shared data folder (a bucket on AWS).
set -euo pipefail
out="${DPC_WORK_DIR:-${TMPDIR:-/tmp}/dpc-work}/listings"
mkdir -p "$out"
python3 - "$out" <<'PY'
import json, random, sys, datetime
from collections import defaultdict

day = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
rng = random.Random(day)  # same day, same data: reruns are reproducible
cities = ["berlin", "hamburg", "munich", "cologne"]
listings = [{"city": rng.choice(cities), "price": rng.randint(400, 2500)} for _ in range(500)]

totals = defaultdict(lambda: {"listings": 0, "price_sum": 0})
for listing in listings:
    totals[listing["city"]]["listings"] += 1
    totals[listing["city"]]["price_sum"] += listing["price"]
aggregate = {
    city: {"listings": t["listings"], "avg_price": round(t["price_sum"] / t["listings"], 2)}
    for city, t in sorted(totals.items())
}
path = f"{sys.argv[1]}/aggregate.json"
with open(path, "w") as file:
    json.dump({"day": day, "cities": aggregate}, file, indent=2)
print(f"listings: {len(listings)} listings in {len(aggregate)} cities -> {path}")
PY
