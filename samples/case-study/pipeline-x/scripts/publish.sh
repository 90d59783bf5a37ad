#!/usr/bin/env bash
# Publish metric X as a CSV report next to it (on AWS: the team's reporting bucket).
set -euo pipefail
work="${DPC_WORK_DIR:-${TMPDIR:-/tmp}/dpc-work}/pipeline-x"
python3 - "$work" <<'PY'
import csv, json, sys
from pathlib import Path

work = Path(sys.argv[1])
metric = json.loads((work / "metric_x.json").read_text())
with open(work / "report.csv", "w", newline="") as file:
    writer = csv.writer(file)
    writer.writerow(["day", "city", "searches_per_listing"])
    for city, value in sorted(metric["searches_per_listing"].items()):
        writer.writerow([metric["day"], city, value])
print(f"published {work / 'report.csv'}")
PY
