#!/usr/bin/env bash
# The systems upstream of the case study: they drop the day's raw input in the landing area,
# where the listings and searches steps read it. `dpc demo` and `dpc sandbox run` run this at
# each midnight of the virtual clock (the demo holds back day 2's search logs until 09:00).
#
#   bash land.sh [listings-export] [search-logs]     (no argument: both)
#
#   DPC_RUN_TIME     its UTC day is the day delivered; unset: today (UTC)
#   DPC_LANDING_DIR  the landing area (on AWS: the landing bucket the exporters PutObject to);
#                    unset: ${TMPDIR:-/tmp}/dpc-landing
# Writes listings-export/<YYYY-MM-DD>.csv (listing_id,city,price) and
# search-logs/<YYYY-MM-DD>.jsonl ({"time", "city", "query"} a line): small, and the same for
# the same day, so every run of the demo reads the same data.
set -euo pipefail
landing="${DPC_LANDING_DIR:-${TMPDIR:-/tmp}/dpc-landing}"
python3 - "$landing" "$@" <<'PY'
import csv, json, os, random, sys
from datetime import datetime, timezone
from pathlib import Path

landing, sources = Path(sys.argv[1]), sys.argv[2:] or ["listings-export", "search-logs"]
run_time = os.environ.get("DPC_RUN_TIME")
moment = datetime.fromisoformat(run_time.replace("Z", "+00:00")) if run_time else None
day = (moment or datetime.now(timezone.utc)).date().isoformat()
cities = ["berlin", "hamburg", "munich", "cologne"]


def deliver(path: Path, write) -> None:
    """Write next to the target and rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    with open(partial, "w", newline="") as file:
        write(file)
    os.replace(partial, path)
    print(f"landed {path.parent.name}/{path.name}")


def listings_export(file) -> None:
    rng = random.Random(f"listings-{day}")
    writer = csv.writer(file)
    writer.writerow(["listing_id", "city", "price"])
    for number in range(500):
        writer.writerow([f"L{number:05d}", rng.choice(cities), rng.randint(400, 2500)])


def search_logs(file) -> None:
    rng = random.Random(f"searches-{day}")
    for second in sorted(rng.randrange(86400) for _ in range(2000)):
        city = rng.choices(cities, weights=[5, 3, 4, 2])[0]
        moment = f"{day}T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z"
        rooms = rng.randint(1, 4)
        file.write(json.dumps({"time": moment, "city": city, "query": f"{rooms}-room flat"}) + "\n")


writers = {"listings-export": (".csv", listings_export), "search-logs": (".jsonl", search_logs)}
for source in sources:
    if source not in writers:
        sys.exit(f"land: unknown source {source!r} (expected {' or '.join(writers)})")
    suffix, write = writers[source]
    deliver(landing / source / f"{day}{suffix}", write)
PY
