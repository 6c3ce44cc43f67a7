"""requirements.txt and pyproject.toml declare the same runtime dependencies with the same bounds."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _by_name(lines: list[str]) -> dict[str, Requirement]:
    requirements = [Requirement(line) for line in lines]
    return {requirement.name.lower().replace("_", "-"): requirement for requirement in requirements}


def test_requirements_txt_agrees_with_pyproject() -> None:
    listed = [
        line.split("#", 1)[0].strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.split("#", 1)[0].strip()
    ]
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    from_txt, from_toml = _by_name(listed), _by_name(declared)
    assert from_txt.keys() == from_toml.keys(), "the two files name different packages"
    for name, requirement in from_txt.items():
        assert requirement.specifier == from_toml[name].specifier, f"{name}: bounds differ"


def test_runtime_stack_is_declared() -> None:
    declared = _by_name(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    for name in ("quart", "hypercorn", "httpx", "tenacity", "structlog", "pydantic", "aiosqlite", "prometheus-client"):
        assert name in declared
