"""`voice-mcp init [DIR]` writes an editable copy of the shipped configuration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from voice_mcp import defaults
from voice_mcp.services.catalog import load_catalog
from voice_mcp.services.intents.loader import load_intents


def _init(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "voice_mcp", "init", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_init_writes_a_config_folder_that_loads(tmp_path: Path) -> None:
    out = _init(tmp_path, "site")
    assert out.returncode == 0, out.stderr
    config = tmp_path / "site" / "config"
    assert (config / "services.toml").read_text() == defaults.CATALOG.read_text()
    assert (config / ".env.example").read_text() == defaults.ENV_EXAMPLE.read_text()
    catalog = load_catalog(config / "services.toml", token_keys=[])
    loaded = load_intents(config / "intents", catalog.services)
    assert [(found.service, found.path) for found in loaded] == [
        ("time", config / "intents" / "time.yaml")]


def test_init_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "services.toml").write_text("# mine\n")
    out = _init(tmp_path)
    assert out.returncode == 2
    assert "config/services.toml: already exists" in out.stderr
    assert (tmp_path / "config" / "services.toml").read_text() == "# mine\n"
    assert not (tmp_path / "config" / ".env.example").exists()
