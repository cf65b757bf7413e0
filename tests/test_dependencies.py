"""Every third-party package the code imports is declared in pyproject.toml."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def top_level_imports(package: Path) -> set[str]:
    """The first part of every absolute import in the package's modules."""
    names: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"voice_mcp", "__future__"}


def declared() -> set[str]:
    """The canonical names of the project's runtime dependencies."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {canonicalize_name(Requirement(line).name) for line in project["dependencies"]}


def test_every_import_of_the_package_is_a_declared_dependency() -> None:
    owners = packages_distributions()
    imports = top_level_imports(ROOT / "voice_mcp")
    unknown = sorted(name for name in imports if name not in owners)
    assert unknown == [], "imported but not installed"
    missing = sorted(f"{name} ({', '.join(owners[name])})" for name in imports
                     if not {canonicalize_name(d) for d in owners[name]} & declared())
    assert missing == []
