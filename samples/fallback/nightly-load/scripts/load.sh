#!/usr/bin/env bash
# Load the partner feed. Set FEED_UNAVAILABLE=1 to see the fallback (load-recovery) take over.
set -euo pipefail
out="${DPC_WORK_DIR:-${TMPDIR:-/tmp}/dpc-work}/feed"
mkdir -p "$out"
if [[ "${FEED_UNAVAILABLE:-0}" == "1" ]]; then
  echo "nightly-load: partner feed unavailable" >&2
  exit 1
fi
python3 - "$out" <<'PY'
import json, sys
rows = [{"partner": p, "orders": n} for p, n in (("alpha", 120), ("beta", 75), ("gamma", 42))]
with open(f"{sys.argv[1]}/feed.json", "w") as file:
    json.dump({"source": "partner-feed", "rows": rows}, file)
print(f"nightly-load: {len(rows)} partners loaded")
PY
