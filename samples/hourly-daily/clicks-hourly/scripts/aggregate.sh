#!/usr/bin/env bash
# Aggregates the clicks of one hour; DPC_PERIOD names it (e.g. 2026-11-27T05).
set -euo pipefail
echo "clicks-hourly: aggregating ${DPC_PERIOD:?DPC_PERIOD is set by dpc for every run}"
