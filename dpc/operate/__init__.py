"""Operating deployed pipelines by hand: a run for a period, a rerun, a backfill (DESIGN §7)."""
