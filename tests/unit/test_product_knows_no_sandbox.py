"""The sandbox needs no cooperation from product code: nothing under dpc/infra or dpc/cli
(but the `dpc sandbox` commands themselves) imports dpc.sandbox or asks whether it runs
against the sandbox."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DPC = Path(__file__).resolve().parents[2] / "dpc"
PRODUCT = sorted(
    path
    for folder in ("infra", "cli")
    for path in (DPC / folder).rglob("*.py")
    if path.name != "sandbox_cmds.py"
)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("path", PRODUCT, ids=lambda p: str(p.relative_to(DPC)))
def test_product_code_does_not_import_the_sandbox(path: Path) -> None:
    sandbox = {name for name in _imports(path) if name.startswith("dpc.sandbox")}
    assert not sandbox, f"{path.name} imports {sorted(sandbox)}"


@pytest.mark.parametrize("path", PRODUCT, ids=lambda p: str(p.relative_to(DPC)))
def test_product_code_has_no_sandbox_switch(path: Path) -> None:
    assert "DPC_SANDBOX" not in path.read_text()


def test_the_deploy_service_has_no_moto_only_options() -> None:
    import inspect

    from dpc.infra.deploy import DeployService

    options = set(inspect.signature(DeployService).parameters)
    assert options == {"session", "endpoint_url", "region", "on_event", "poll_seconds", "sleep"}
