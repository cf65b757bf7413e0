"""Start-up checks that turn a first run into a working one, or stop it in one line.

docs/api.md, Settings: with no client authentication configured on a loopback address, a
development secret is made once and kept in the state directory, so `serve`, `token` and
`ask` agree on it with nothing set; on any other address the server refuses to start.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from voice_mcp.dev_auth import DEV_SECRET_FILE as DEV_SECRET_FILE
from voice_mcp.dev_auth import is_loopback as is_loopback
from voice_mcp.dev_auth import load_or_make_dev_secret, reachable_without_auth, state_home
from voice_mcp.settings import ConfigError, Settings

if TYPE_CHECKING:
    from voice_mcp.services.catalog import Catalog


def state_dir(settings: Settings) -> Path:
    """Where voice-mcp keeps what it makes for itself (XDG state directory by default)."""
    return state_home(settings.state_dir)


def with_client_auth(settings: Settings) -> Settings:
    """Settings that can verify client tokens: as configured, or with the development secret.

    Raises ConfigError (one line) on a non-loopback address with no authentication.
    """
    if settings.client_auth_configured:
        return settings
    if not is_loopback(settings.host):
        raise ConfigError(reachable_without_auth(settings.host))
    secret = load_or_make_dev_secret(state_dir(settings))
    return settings.model_copy(update={"jwt_secret": SecretStr(secret)})


def secret_file_warnings(catalog: Catalog, env_file: Path = Path(".env")) -> list[str]:
    """What exposes a secrets file to other accounts or to a stdio server, one line each.

    docs/security.md, "stdio servers": `.env` is mode 0600, and no stdio server starts in the
    directory that holds it (the same OS user can still read it by path: use a sandbox).
    """
    found = []
    if env_file.is_file() and env_file.stat().st_mode & 0o077:
        found.append(f"{env_file.resolve()} holds secrets but other accounts may read it:"
                     f" chmod 600 {env_file}")
    for service in catalog.services.values():
        if service.transport == "stdio" and service.cwd is not None \
                and (Path(service.cwd) / env_file.name).is_file():
            found.append(f"service '{service.id}' starts in {service.cwd}, next to"
                         f" {env_file.name}: remove its cwd (it gets a folder of its own)")
    return found


def missing_parts(settings: Settings) -> str | None:
    """One line naming what is not configured and where to set it, or None."""
    missing = []
    if not settings.llm_configured:
        offline = " (sentence templates still answer)" if settings.local_intents != "off" else ""
        missing.append(f"LLM (OPENAI_API_KEY or VOICE_MCP_LLM_BASE_URL){offline}")
    if settings.stt == "openai" and settings.openai_api_key is None \
            and settings.stt_base_url is None and settings.llm_base_url is None:
        missing.append("speech-to-text (OPENAI_API_KEY or VOICE_MCP_STT_BASE_URL)")
    if not missing:
        return None
    return f"not configured: {'; '.join(missing)}; set them in .env or the environment"


def bind_listen_socket(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """Bind the listen address before anything starts, so a busy port is one clear line.

    `reuse_port`: several worker processes bind the same port and the kernel spreads the
    connections (SO_REUSEPORT, docs/operations.md); another program on it is still refused.
    """
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as err:
        raise ConfigError(f"VOICE_MCP_HOST={host}: cannot resolve ({err.strerror})") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise ConfigError(f"{host}:{port} is already in use: stop the other server or"
                              " set VOICE_MCP_PORT") from None
        raise ConfigError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    return sock
