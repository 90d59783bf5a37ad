"""Findings: what is wrong with a pipeline.yaml, and exactly where.

A finding is data (for ``dpc validate --json``) and a line an editor can jump to
(``file:line:col: field.path: message``), so both people and tools can act on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dpc.errors import DpcError


@dataclass(frozen=True, order=True)
class Finding:
    """One problem. ``line``/``column`` are 1-based; 0 means the whole file."""

    file: Path
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else str(self.file)
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["file"] = str(self.file)
        return data


class SpecError(DpcError):
    """One or more pipeline.yaml files are invalid; carries every finding, not just the first."""

    def __init__(self, findings: Iterable[Finding]) -> None:
        self.findings: tuple[Finding, ...] = tuple(findings)
        super().__init__("\n".join(str(finding) for finding in self.findings))
