#!/usr/bin/env bash
# Builds the report of one day (DPC_PERIOD, e.g. 2026-11-27) from its 24 hourly aggregates.
set -euo pipefail
echo "clicks-daily: report of ${DPC_PERIOD:?DPC_PERIOD is set by dpc for every run}"
