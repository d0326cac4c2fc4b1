"""The packages of the runtime depend on each other in one direction: no import cycle.

Each sub-package (``call``, ``config``, ``telephony``...) and each top-level module
(``providers``, ``errors``...) is a node; an import anywhere in one of them, lazy ones included
(only ``if TYPE_CHECKING:`` blocks are left out), is an edge.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from .conftest import ROOT

PACKAGE = "agent_runtime"


def _sources() -> Iterator[tuple[str, Path]]:
    """(dotted module name, file) of every module of the package, plugins included."""
    for base, prefix in ((ROOT / PACKAGE, (PACKAGE,)), (ROOT / "plugins", (PACKAGE, "plugins"))):
        for path in base.rglob("*.py"):
            parts = path.relative_to(base).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join((*prefix, *parts)), path


def _unit(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == PACKAGE and len(parts) > 1 else None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, path: Path) -> Iterator[str]:
    is_package = path.name == "__init__.py"
    pending: list[ast.AST] = [ast.parse(path.read_text())]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)
        pending.extend(ast.iter_child_nodes(node))


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in _sources():
        unit = _unit(module)
        if unit is None:
            continue
        targets = {_unit(name) for name in _imports(module, path)}
        graph.setdefault(unit, set()).update(t for t in targets if t and t != unit)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph``, or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_graph_is_read() -> None:
    graph = _graph()
    assert {"call", "config", "plugins", "telephony", "report"} <= graph.keys()
    assert "config" in graph["call"] and "errors" in graph["config"]


def test_no_package_imports_back_a_package_that_imports_it() -> None:
    assert _cycle(_graph()) is None


def test_the_error_tree_and_the_settings_import_nothing_of_the_runtime_but_each_other() -> None:
    graph = _graph()
    assert graph.get("errors", set()) == set()
    assert graph["settings"] <= {"errors"}
