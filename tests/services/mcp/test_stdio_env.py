"""A stdio server sees an allowlisted environment plus its own `env` table, no secret."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.fixtures.mcp_servers import REPO_ROOT
from tests.services.mcp.conftest import MakeManager
from voice_mcp.services.catalog import ServiceConfig

SECRETS = {
    "VOICE_MCP_JWT_SECRET": "jwt-secret-" + "x" * 32,
    "OPENAI_API_KEY": "sk-openai-secret",
    "CALENDAR_CLIENT_SECRET": "another-services-client-secret",
    "GITHUB_TOKEN": "ghp_another_services_token",
    "AWS_SECRET_ACCESS_KEY": "cloud-key",
    "PYTHONPATH": "/somewhere/else",
}


async def test_stdio_server_gets_allowlist_and_its_own_env(
        make_manager: MakeManager, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LC_TIME", "en_GB.UTF-8")
    monkeypatch.setenv("TZ", "Europe/Paris")
    service = ServiceConfig(id="envsvc", title="Env", transport="stdio",
                            command=["python", "-m", "tests.mcp_servers.env_server"],
                            cwd=str(REPO_ROOT), env={"ENV_SERVICE_SETTING": "mine"})
    manager = make_manager(service)

    result = await manager.call_tool("alice", "envsvc", "environment", {})

    assert result.success, result.error
    seen = json.loads(result.output)
    assert seen["ENV_SERVICE_SETTING"] == "mine"
    assert seen["LC_TIME"] == "en_GB.UTF-8" and seen["TZ"] == "Europe/Paris"
    assert "PATH" in seen
    leaked = set(SECRETS) & set(seen)
    assert not leaked, leaked
    for value in SECRETS.values():
        assert value not in result.output


async def test_stdio_server_starts_in_a_private_folder_of_its_own(
        make_manager: MakeManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a catalog `cwd` a stdio server does not start where voice-mcp runs (next to
    `.env`), but in an empty 0700 folder for that service under the state directory."""
    monkeypatch.chdir(REPO_ROOT)  # where `make run` starts the server
    (tmp_path / "state").mkdir()
    script = REPO_ROOT / "tests" / "mcp_servers" / "env_server.py"
    service = ServiceConfig(id="envsvc", title="Env", transport="stdio",
                            command=["python", str(script)])
    manager = make_manager(service, stdio_workdirs=tmp_path / "state" / "services")

    result = await manager.call_tool("alice", "envsvc", "workdir", {})

    assert result.success, result.error
    seen = json.loads(result.output)
    folder = tmp_path / "state" / "services" / "envsvc"
    assert seen == {"cwd": str(folder), "files": []}
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


async def test_a_manager_without_a_state_directory_uses_a_scratch_folder(
        make_manager: MakeManager, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO_ROOT)
    script = REPO_ROOT / "tests" / "mcp_servers" / "env_server.py"
    service = ServiceConfig(id="envsvc", title="Env", transport="stdio",
                            command=["python", str(script)])
    manager = make_manager(service)
    result = await manager.call_tool("alice", "envsvc", "workdir", {})
    assert result.success, result.error
    seen = json.loads(result.output)
    assert Path(seen["cwd"]).name == "envsvc" and seen["files"] == []
    await manager.close()
    assert not Path(seen["cwd"]).exists(), "the scratch folder goes with the manager"
