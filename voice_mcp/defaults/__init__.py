"""What ships inside the package and serves when nothing is configured.

docs/api.md, "Configuration": with no catalog at `config/services.toml` (and
`VOICE_MCP_SERVICES_FILE` unset) the default catalog here runs, with its sentence
templates; a known server's built-in templates apply to whatever service runs it;
`voice-mcp init` copies these files into an editable `config/`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
CATALOG = FOLDER / "services.toml"
INTENTS = FOLDER / "intents"
ENV_EXAMPLE = FOLDER / "env.example"

# Servers whose tools we know, by the program or module a stdio command runs: their
# templates (`intents/<file>`) apply to a service of any id that runs them.
KNOWN_SERVERS = {"mcp_server_time": "time.yaml", "mcp-server-time": "time.yaml"}


def builtin_templates(command: Sequence[str] | None) -> Path | None:
    """The shipped templates for the server a stdio command runs, if we know it."""
    for word in command or ():
        name = KNOWN_SERVERS.get(Path(word).name)
        if name is not None:
            return INTENTS / name
    return None
