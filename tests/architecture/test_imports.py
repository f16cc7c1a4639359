"""The structure rules of docs/architecture.md that import-linter does not check.

`make lint` runs import-linter's layers contract (pyproject.toml); these tests add: no
import of another app hides inside a function, and no two modules import each other in
a loop, within an app or across apps (function-level imports included).
"""

from __future__ import annotations

import ast
from pathlib import Path

from django.conf import settings

APPS = (
    "common",
    "accounts",
    "partners",
    "notifications",
    "bookings",
    "otp",
    "payments",
    "refunds",
    "console",
    "monitoring",
)
ROOT = Path(settings.BASE_DIR)


def _modules() -> dict[str, Path]:
    """Every module of the apps (migrations included), by dotted name."""
    found = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(tree: ast.AST, module: str) -> list[tuple[str, ast.AST]]:
    """(imported module, node) for every import statement, resolving relative ones."""
    package = module.rsplit(".", 1)[0]
    result = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            result += [(alias.name, node) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            result.append((base, node))
            # ``from pkg import module`` imports the submodule too.
            result += [(f"{base}.{alias.name}", node) for alias in node.names]
    return result


def _function_bodies(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def test_no_import_of_another_app_inside_a_function():
    offenders = []
    for module, path in _modules().items():
        app = module.split(".")[0]
        tree = ast.parse(path.read_text(), filename=str(path))
        for function in _function_bodies(tree):
            for node in ast.walk(function):
                if not isinstance(node, ast.Import | ast.ImportFrom):
                    continue
                for target, _ in _imports(node, module):
                    top = target.split(".")[0]
                    if top in APPS and top != app:
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {target}")
    assert offenders == []


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for target, _ in _imports(tree, module):
            # The longest known module the import names (``a.b.c`` -> ``a.b`` if ``c`` is a
            # name, not a module).
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != module:
                graph[module].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for neighbour in graph[node]:
            if neighbour not in index:
                visit(neighbour)
                low[node] = min(low[node], low[neighbour])
            elif neighbour in on_stack:
                low[node] = min(low[node], index[neighbour])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_no_two_modules_import_each_other_in_a_loop():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_loop():
    # The check above must be able to fail: a two-module and a three-module loop.
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert sorted(_cycles(graph)) == [["a", "b"], ["c", "d", "e"]]
