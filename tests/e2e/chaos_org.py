"""A ten-pipeline org over three accounts for chaos runs: three scheduled roots, children
correlated by period and by latest run, fan-in and fan-out, chains three deep. Its runs do
not depend on the order events arrive in (each parent runs once per period, every condition
is on SUCCESS), so a chaos run must reproduce them exactly."""

from __future__ import annotations

from pathlib import Path

A, B, C = "111111111111", "222222222222", "333333333333"

ROOTS = {"r1": (A, "0 1 * * ? *"), "r2": (B, "0 2 * * ? *"), "r3": (C, "30 2 * * ? *")}
CHILDREN = {
    # name: (account, correlate, mode, parents)
    "c1": (A, "period", "allOf", ["r1", "r2"]),
    "c2": (B, "latest", "anyOf", ["r2", "r3"]),
    "c3": (C, "period", "allOf", ["c1", "r3"]),
    "c4": (A, "latest", "allOf", ["c2"]),
    "c5": (B, "period", "allOf", ["c1", "r1"]),
    "c6": (C, "period", "allOf", ["c3", "c5"]),
    "c7": (A, "latest", "allOf", ["c6"]),
}
ACCOUNT_OF = {name: spec[0] for name, spec in {**ROOTS, **CHILDREN}.items()}


def write_org(folder: Path) -> Path:
    for name, (account, cron) in ROOTS.items():
        _project(folder, name, account, f'  schedule:\n    cron: "{cron}"\n')
    for name, (account, correlate, mode, parents) in CHILDREN.items():
        items = "".join(
            f'      - {{name: {p}, account: "{ACCOUNT_OF[p]}", status: [SUCCESS]}}\n'
            for p in parents
        )
        trigger = f"  executions:\n    {mode}:\n{items}    correlate: {correlate}\n"
        _project(folder, name, account, trigger)
    return folder


def _project(folder: Path, name: str, account: str, trigger: str) -> None:
    project = folder / name
    (project / "scripts").mkdir(parents=True)
    (project / "scripts" / "work.sh").write_text(
        f'#!/usr/bin/env bash\necho "{name} $DPC_PERIOD"\n'
    )
    (project / "pipeline.yaml").write_text(
        f'name: {name}\naccount: "{account}"\ntrigger:\n{trigger}'
        "steps:\n  - {name: work, type: shell, script: scripts/work.sh}\ntimeout: 1h\n"
    )
