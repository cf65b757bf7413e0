"""The wheel runs anywhere: installed outside the repository with nothing configured, it
serves the shipped catalog and answers a template command (voice_mcp/defaults)."""

from __future__ import annotations

import asyncio
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.cluster import wait_ready
from voice_mcp.services.store import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _build_wheel(tmp: Path) -> Path:
    """Build from a clean copy of the sources, so nothing but what ships can leak in."""
    src = tmp / "src"
    shutil.copytree(ROOT / "voice_mcp", src / "voice_mcp",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "-w", str(tmp / "dist"), str(src)],
                   check=True, capture_output=True, timeout=300)
    return next((tmp / "dist").glob("voice_mcp-*.whl"))


def _fresh_venv(tmp: Path, wheel: Path) -> Path:
    """A new venv holding the wheel; its dependencies come from this venv's site-packages
    (listed by a .pth file) so the test needs no package index."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", str(wheel)], check=True, capture_output=True, timeout=300)
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print("
                              "sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv


def _env(tmp: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VOICE_MCP_", "OPENAI_", "XDG_", "PYTHON"))}
    env.update(HOME=str(tmp / "home"), VOICE_MCP_PORT=str(port))
    return env


async def test_the_installed_wheel_answers_with_nothing_configured(tmp_path: Path) -> None:
    venv = _fresh_venv(tmp_path, _build_wheel(tmp_path))
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import voice_mcp; print(voice_mcp.__file__)"],
                           check=True, capture_output=True, text=True, cwd=tmp_path).stdout
    assert where.startswith(str(venv)), where
    run = tmp_path / "run"
    run.mkdir()
    port = free_port()
    env = _env(tmp_path, port)
    server = await asyncio.create_subprocess_exec(
        str(venv / "bin" / "voice-mcp"), "serve", cwd=run, env=env,
        stderr=asyncio.subprocess.DEVNULL)
    try:
        async with aiohttp.ClientSession() as session, asyncio.timeout(60):
            await wait_ready(session, f"http://127.0.0.1:{port}")
        ask = await asyncio.create_subprocess_exec(
            str(venv / "bin" / "voice-mcp"), "ask", "what time is it in Tokyo",
            "--url", f"http://127.0.0.1:{port}", cwd=run, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        async with asyncio.timeout(60):
            out, err = await ask.communicate()
        assert ask.returncode == 0, err.decode()
        assert "in Tokyo" in out.decode()
    finally:
        server.terminate()
        await server.wait()
