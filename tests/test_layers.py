"""The package layers stay layered: found by reading every module's imports with ast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "voice_mcp"

# What each layer must never import (anywhere in a module, lazily or for type checking).
FORBIDDEN = {
    "services": ("voice_mcp.web", "voice_mcp.runtime", "voice_mcp.client", "aiohttp.web"),
    "client": ("voice_mcp.services", "voice_mcp.web", "voice_mcp.runtime"),
    "web": ("voice_mcp.runtime", "voice_mcp.client"),
    "settings.py": ("voice_mcp.services", "voice_mcp.web", "voice_mcp.runtime",
                    "voice_mcp.client"),
    "errors.py": ("voice_mcp.services", "voice_mcp.web", "voice_mcp.runtime", "voice_mcp.client"),
}


def imported_modules(path: Path) -> set[str]:
    """Every module an `import` or `from ... import` in the file names (absolute imports)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules_of(layer: str) -> list[Path]:
    target = PACKAGE / layer
    return [target] if target.is_file() else sorted(target.rglob("*.py"))


def breaks(name: str, forbidden: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in forbidden)


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    modules = modules_of(layer)
    assert modules, f"no modules found for {layer}"
    wrong = [f"{path.relative_to(PACKAGE)}: {name}" for path in modules
             for name in sorted(imported_modules(path)) if breaks(name, FORBIDDEN[layer])]
    assert wrong == []


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from voice_mcp.web import keys\n", encoding="utf-8")
    assert any(breaks(n, FORBIDDEN["services"]) for n in imported_modules(module))
