"""`voice-mcp init [DIR]`: an editable copy of the shipped configuration.

The package runs with nothing configured (voice_mcp/defaults); an operator who wants to
add services or change templates gets the same files as a `config/` folder to edit.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from voice_mcp import defaults
from voice_mcp.settings import ConfigError


def config_files(target: Path) -> dict[Path, Path]:
    """Each file `init` writes (under `target/config`), mapped to the shipped original."""
    config = target / "config"
    files = {config / "services.toml": defaults.CATALOG,
             config / ".env.example": defaults.ENV_EXAMPLE}
    for template in sorted(defaults.INTENTS.glob("*.yaml")):
        files[config / "intents" / template.name] = template
    return files


def write_config(target: Path) -> list[Path]:
    """Write the editable `config/`; refuse, before writing anything, to overwrite a file."""
    files = config_files(target)
    existing = [str(path) for path in files if path.exists()]
    if existing:
        raise ConfigError(f"{', '.join(existing)}: already exists; nothing written")
    for path, original in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(original, path)
    return list(files)
