"""No module-level import cycle inside ``rldsl/``: the package reads as layers (``lang`` below the
compiler, the compiler below the API), and importing any module never depends on import order.

Imports are read from the source with :mod:`ast`, without importing anything. An import counts
when it runs as its module is imported: at module level, in a module-level ``if``/``try``/``with``
or a class body; not inside a function (a lazy import), and not under ``if TYPE_CHECKING:`` (only
type checkers run it). Importing ``a.b.c`` runs the packages ``a`` and ``a.b`` first, so it also
depends on those packages' ``__init__`` modules, except the ones the importer itself is inside
(those are being imported already when it runs).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rldsl"


def module_files() -> dict[str, Path]:
    """Every module of ``rldsl/`` by dotted name (a package by the name of its ``__init__``)."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements that run when the module is imported (functions left out)."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue  # a lazy import: it runs when the function is called
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _runtime_imports(node.orelse)
        else:
            for block in _blocks(node):
                yield from _runtime_imports(block)


def _blocks(node: ast.stmt) -> Iterator[list[ast.stmt]]:
    """The statement lists inside a compound statement (``if``, ``try``, ``with``, ``class``...)."""
    for field in ("body", "orelse", "finalbody"):
        block = getattr(node, field, None)
        if isinstance(block, list):
            yield block
    for part in (*getattr(node, "handlers", ()), *getattr(node, "cases", ())):
        yield part.body


def _imported_names(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> Iterator[str]:
    """The dotted names an import statement imports (``from a import b`` gives ``a.b``, which may
    be a module or a name in ``a``)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    yield base
    yield from (f"{base}.{alias.name}" for alias in node.names)


def _containing_module(name: str, modules: dict[str, Path]) -> str | None:
    """The longest module name that ``name`` starts with (``rldsl.lang.check.X`` -> ``rldsl.lang.check``)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """Each module of ``rldsl/`` to the modules of ``rldsl/`` it imports when it is imported."""
    modules = module_files()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        is_package = path.name == "__init__.py"
        own_packages = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1 + is_package)}
        targets: set[str] = set()
        for node in _runtime_imports(tree.body):
            for name in _imported_names(node, module, is_package):
                target = _containing_module(name, modules) if name.split(".")[0] == "rldsl" else None
                if target is None:
                    continue
                parts = target.split(".")
                targets |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)} - own_packages
        graph[module] = targets - {module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph as a path that ends where it starts, or None (depth-first, iterative)."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path = [start]
        stack = [iter(sorted(graph[start]))]
        while stack:
            target = next(stack[-1], None)
            if target is None:
                done.add(path.pop())
                stack.pop()
            elif target in path:
                return path[path.index(target):] + [target]
            elif target not in done and target in graph:
                path.append(target)
                stack.append(iter(sorted(graph[target])))
    return None


def test_the_graph_sees_every_module_and_known_edges() -> None:
    graph = import_graph()
    assert "rldsl.lang.check" in graph and "rldsl.api" in graph and "rldsl.compiler.artifact" in graph
    assert "rldsl.lang.report" in graph["rldsl.lang.check"]  # a module-level import
    assert "rldsl.compiler" in graph["rldsl.compiler.artifact"] or "rldsl.compiler.program" in graph[
        "rldsl.compiler.artifact"]


def test_no_module_level_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "module-level import cycle: " + " -> ".join(cycle)


def test_the_artifact_format_and_the_compiler_never_depend_on_the_api() -> None:
    """``rldsl.api`` and ``rldsl.build`` sit on top: the checker, the compiler and the artifact
    reader and writer never import them, not even lazily inside a function."""
    modules = module_files()
    for module, path in modules.items():
        if not module.startswith(("rldsl.lang", "rldsl.compiler")):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = set(_imported_names(node, module, path.name == "__init__.py"))
                assert not names & {"rldsl.api", "rldsl.build", "rldsl.check", "rldsl.compile", "rldsl.Model"}, (
                    f"{module} imports {sorted(names)}")


def test_find_cycle_reports_the_path() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
