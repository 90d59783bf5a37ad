#!/usr/bin/env bash
# Load the feed from the last backup copy, marked as such so the report can say so.
set -euo pipefail
out="${DPC_WORK_DIR:-${TMPDIR:-/tmp}/dpc-work}/feed"
mkdir -p "$out"
python3 - "$out" <<'PY'
import json, sys
rows = [{"partner": p, "orders": n} for p, n in (("alpha", 118), ("beta", 75))]
with open(f"{sys.argv[1]}/feed.json", "w") as file:
    json.dump({"source": "backup", "rows": rows}, file)
print(f"load-recovery: {len(rows)} partners loaded from backup")
PY
