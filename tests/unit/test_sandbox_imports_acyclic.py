"""The sandbox's modules import one another in one direction only: a cycle means two
modules that cannot be read, tested or replaced apart (issue 13). Parsed with ``ast``
rather than imported, so function-level and ``TYPE_CHECKING`` imports count too: they
hide a cycle from Python's import machinery, not from a reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

import dpc.sandbox

PACKAGE = "dpc.sandbox"
ROOT = Path(dpc.sandbox.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def _imported(path: Path, module: str) -> set[str]:
    """Every dpc.sandbox module ``module`` names in an import, wherever it sits."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            names.add(origin)
            # `from dpc.sandbox import deployer` imports the module deployer.
            names.update(f"{origin}.{alias.name}" for alias in node.names)
    return names


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in ROOT.rglob("*.py")}
    return {
        name: {other for other in _imported(path, name) if other in modules and other != name}
        for name, path in modules.items()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path of modules, first module repeated at the end; None if none."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for other in sorted(graph[node]):
            found = visit(other, [*path, node])
            if found:
                return found
        done.add(node)
        return None

    for node in sorted(graph):
        found = visit(node, [])
        if found:
            return found
    return None


def test_the_graph_sees_the_sandbox_modules() -> None:
    graph = _graph()
    assert f"{PACKAGE}.server" in graph
    assert f"{PACKAGE}.sandbox" in graph[f"{PACKAGE}.org"]
    # The `from package import module` form names the module, not just the package.
    assert f"{PACKAGE}.deployer" in graph[f"{PACKAGE}.org"]
    # A subpackage's modules count; statemachine imports the integrations' types, and
    # those the server's, under TYPE_CHECKING only.
    assert f"{PACKAGE}.statemachine" in graph[f"{PACKAGE}.services.states"]
    assert f"{PACKAGE}.integrations" in graph[f"{PACKAGE}.statemachine"]
    assert f"{PACKAGE}.server" in graph[f"{PACKAGE}.integrations"]


def test_no_import_cycle_inside_the_sandbox() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
