#!/usr/bin/env bash
# Summarise whichever feed was loaded (nightly or backup).
set -euo pipefail
work="${DPC_WORK_DIR:-${TMPDIR:-/tmp}/dpc-work}"
python3 - "$work" <<'PY'
import json, sys
from pathlib import Path
work = Path(sys.argv[1])
feed = json.loads((work / "feed" / "feed.json").read_text())
total = sum(row["orders"] for row in feed["rows"])
(work / "daily-report.txt").write_text(f"orders: {total} (source: {feed['source']})\n")
print(f"daily-report: {total} orders from {feed['source']}")
PY
