"""Imports point down the layers, packages form no cycle, and the product ships no test double.

Layers, lowest first (DESIGN.md): world ← engine ← support (config, logs, metrics) ← services (llm, parsing,
store, tasks, control, legacy) ← game ← web ← serve (the supervisor and its workers) and worker (Celery's) ←
the command line.
A module may import its own layer or a lower one.
"""

from __future__ import annotations

import ast
import importlib
import tomllib
from collections.abc import Iterator
from pathlib import Path

import setuptools

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "xianxia"

LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"world"}),
    frozenset({"engine"}),
    frozenset({"config", "logs", "metrics", "process_metrics", "background"}),
    frozenset({"llm", "parsing", "store", "tasks", "control", "legacy"}),
    frozenset({"game"}),
    frozenset({"web"}),
    frozenset({"serve", "worker"}),  # worker: the Celery worker's entry point, which builds the services
    frozenset({"__main__", "__init__"}),
)
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}
#: What the pure engine may import from outside the project: the standard library's pure parts and pydantic.
ENGINE_MAY_IMPORT = frozenset(
    {"__future__", "abc", "collections", "dataclasses", "enum", "functools", "itertools", "math", "random"}
    | {"typing", "types", "re", "hashlib", "operator", "statistics", "bisect", "heapq", "string", "copy"}
    | {"pydantic", "unicodedata", "decimal", "fractions", "json"}
)


def unit_of(path: Path) -> str:
    """The layer unit a module belongs to: its top-level package, or its own name for a top-level module."""
    first = path.relative_to(PACKAGE).parts[0]
    return first.removesuffix(".py")


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in a module, relative ones resolved."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                yield node.lineno, f"{base}.{node.module}" if node.module else base
            elif node.module:
                yield node.lineno, node.module


def project_edges() -> dict[tuple[str, str], list[str]]:
    """(importing unit, imported unit) -> where, for every import of one part of the project by another."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        source = unit_of(path)
        for line, module in imports(path):
            parts = module.split(".")
            if parts[0] != "xianxia" or len(parts) < 2:
                continue
            target = parts[1]
            if target != source:
                edges.setdefault((source, target), []).append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return edges


def test_every_module_belongs_to_a_layer() -> None:
    units = {unit_of(path) for path in PACKAGE.rglob("*.py")}

    assert units - RANK.keys() == set(), "add the new package to LAYERS in tests/test_layers.py"


def test_no_import_points_up_a_layer() -> None:
    upward = [
        where
        for (source, target), found in project_edges().items()
        if RANK.get(target, -1) > RANK.get(source, len(LAYERS))
        for where in found
    ]

    assert upward == []


def test_packages_import_each_other_without_a_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for source, target in project_edges():
        graph.setdefault(source, set()).add(target)
    cycles: list[list[str]] = []

    def visit(unit: str, path: list[str]) -> None:
        for target in sorted(graph.get(unit, ())):
            if target in path:
                cycles.append([*path[path.index(target) :], target])
            elif len(path) < len(RANK):
                visit(target, [*path, target])

    for unit in sorted(graph):
        visit(unit, [unit])

    assert cycles == []


def test_engine_imports_no_io_or_framework_library() -> None:
    foreign = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((PACKAGE / "engine").rglob("*.py"))
        for line, module in imports(path)
        if module.split(".")[0] not in ENGINE_MAY_IMPORT | {"xianxia"}
    ]

    assert foreign == []


def test_the_fake_upstream_uses_no_game_code_but_the_world_data() -> None:
    borrowed = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / "tests" / "support" / "fakellm").rglob("*.py"))
        for line, module in imports(path)
        if module.startswith("xianxia") and module.split(".")[:2] not in (["xianxia", "world"], ["xianxia", "logs"])
    ]

    assert borrowed == []


def test_the_package_ships_neither_tests_nor_the_fake_upstream() -> None:
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    shipped = setuptools.find_namespace_packages(str(ROOT), include=find["include"], exclude=find.get("exclude", ()))
    importing_tests = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, module in imports(path)
        if module.split(".")[0] == "tests"
    ]

    assert shipped and all(name == "xianxia" or name.startswith("xianxia.") for name in shipped), shipped
    assert [name for name in shipped if "fakellm" in name or "tests" in name.split(".")] == []
    assert importing_tests == []
    assert Path(importlib.import_module("xianxia").__file__ or "").parent == PACKAGE
