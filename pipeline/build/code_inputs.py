"""Which source files of the ``pipeline`` package a stage runs: its code inputs.

Each task declares the code of its stage as inputs, so a changed flag in the
compiler stage or an upgraded HFS+ writer reruns the tasks whose outputs it
shapes.  The lists are derived from the imports (read from the source with
``ast``, including imports inside functions, excluding ``if TYPE_CHECKING:``
blocks, which never run), never kept by hand: a module that a stage starts
to use is covered the moment the import is written.  The same import graph
lets the tests check the layering rules.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import pipeline

PACKAGE_ROOT = Path(pipeline.__file__).resolve().parent


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if (isinstance(child, ast.If) and isinstance(child.test, ast.Name)
                    and child.test.id == "TYPE_CHECKING"):
                todo.extend(child.orelse)
                continue
            todo.append(child)


class ImportGraph:
    """The modules of one copy of the ``pipeline`` package and what each imports."""

    def __init__(self, root: Path = PACKAGE_ROOT, package: str = "pipeline") -> None:
        self.root = Path(root)
        self.package = package

    def modules(self) -> list[str]:
        """Every module of the package, by dotted name, sorted."""
        names = []
        for path in sorted(self.root.rglob("*.py")):
            parts = list(path.relative_to(self.root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            names.append(".".join([self.package, *parts]))
        return names

    def file(self, name: str) -> Path | None:
        """``pipeline.hfs.writer`` -> its file (a package's ``__init__.py``)."""
        parts = name.split(".")
        if parts[0] != self.package:
            return None
        base = self.root.joinpath(*parts[1:])
        if (base / "__init__.py").is_file():
            return base / "__init__.py"
        if base.with_suffix(".py").is_file():
            return base.with_suffix(".py")
        return None

    @lru_cache(maxsize=None)
    def direct_imports(self, name: str) -> frozenset[str]:
        """Every module name ``name`` imports (relative names resolved), each
        ``from X import y`` also as ``X.y`` when that is a module of the package."""
        path = self.file(name)
        if path is None:
            return frozenset()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in _runtime_nodes(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                found.add(module)
                found.update(f"{module}.{alias.name}" for alias in node.names
                             if self.file(f"{module}.{alias.name}") is not None)
        return frozenset(found)

    def closure(self, *modules: str) -> set[str]:
        """``modules`` and every package module they import, transitively
        (importing ``pipeline.hfs.writer`` also runs the packages' ``__init__``)."""
        seen: set[str] = set()
        todo = [m for name in modules for m in _with_parents(name)]
        while todo:
            name = todo.pop()
            if name in seen or self.file(name) is None:
                continue
            seen.add(name)
            for imported in self.direct_imports(name):
                todo.extend(_with_parents(imported))
        return seen


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def code_files(*modules: str) -> list[Path]:
    """The files of ``modules`` and of every ``pipeline`` module they import,
    transitively, sorted (a task's code inputs)."""
    graph = ImportGraph()
    return sorted({graph.file(name) for name in graph.closure(*modules)})
