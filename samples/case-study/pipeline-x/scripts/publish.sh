#!/usr/bin/env bash
# Publish the day's metric X as a CSV report next to it (on AWS: the team's reporting
# bucket); the day is DPC_PERIOD (a run by hand: the day of DPC_RUN_TIME, else today).
set -euo pipefail
root="${DPC_WORK_DIR:-${TMPDIR:-/tmp}/dpc-work}/pipeline-x"
python3 - "$root" <<'PY'
import csv, json, os, sys
from datetime import datetime, timezone
from pathlib import Path

run_time = os.environ.get("DPC_RUN_TIME")
moment = datetime.fromisoformat(run_time.replace("Z", "+00:00")) if run_time else None
day = os.environ.get("DPC_PERIOD") or (moment or datetime.now(timezone.utc)).date().isoformat()
work = Path(sys.argv[1]) / day
metric = json.loads((work / "metric_x.json").read_text())
with open(work / "report.csv", "w", newline="") as file:
    writer = csv.writer(file)
    writer.writerow(["day", "city", "searches_per_listing"])
    for city, value in sorted(metric["searches_per_listing"].items()):
        writer.writerow([metric["day"], city, value])
print(f"published {work / 'report.csv'}")
PY
