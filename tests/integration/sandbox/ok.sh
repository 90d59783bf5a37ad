#!/usr/bin/env bash
# A step that succeeds and leaves the run's context where the test can read it.
set -euo pipefail
env | grep '^DPC_' | sort > "$DPC_RUN_DIR/context.env"
echo "args: $*" >> "$DPC_RUN_DIR/context.env"
