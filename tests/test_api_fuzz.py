"""Fuzz the API from its own description: schemathesis against the real `voice-mcp serve`.

The server starts with nothing configured (embedded Redis, no LLM, the default catalog, the
development secret) but the command rate limit, which would otherwise answer most requests
429 and leave the logic behind them untested. Every operation, the coverage and fuzzing
phases, every check: no server error and no failure (docs/api.md, "The API description").
Bounded: `MAX_EXAMPLES` per operation keeps it to a minute or two.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from voice_mcp.services.store import free_port

ROOT = Path(__file__).resolve().parents[1]
ST = Path(sys.executable).parent / "st"
CONFIG = Path(__file__).parent / "fuzz" / "schemathesis.toml"
MAX_EXAMPLES = 25
SEED = 20261206  # fixed, so a failure here reproduces; change it to explore

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _env(tmp_path: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOICE_MCP_", "OPENAI_"))}
    env.update(XDG_STATE_HOME=str(tmp_path / "state"), VOICE_MCP_PORT=str(port),
               VOICE_MCP_SERVICES_FILE=str(ROOT / "config" / "services.toml"),
               VOICE_MCP_RATE_LIMIT_PER_MINUTE="0", VOICE_MCP_LOG_LEVEL="WARNING")
    return env


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`voice-mcp serve` in a scratch directory (no `.env`): (base URL, a bearer token)."""
    if not ST.exists():
        pytest.fail("schemathesis is not installed: pip install -e '.[test]'")
    port = free_port()
    env = _env(tmp_path, port)
    voice_mcp = [sys.executable, "-m", "voice_mcp"]
    proc = subprocess.Popen([*voice_mcp, "serve"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        token = subprocess.run([*voice_mcp, "token", "--user", "fuzzer", "--ttl", "3600"],
                               cwd=tmp_path, env=env, check=True, capture_output=True,
                               text=True).stdout.strip()
        yield f"http://127.0.0.1:{port}", token
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert b"Traceback" not in err, err.decode(errors="replace")[-4000:]


def test_the_api_answers_its_own_description(served: tuple[str, str], tmp_path: Path) -> None:
    base, token = served
    run = subprocess.run(
        [str(ST), "--config-file", str(CONFIG), "run", f"{base}/api/openapi.json",
         "--wait-for-schema", "60", "-H", f"Authorization: Bearer {token}",
         "--checks", "all", "--phases", "coverage,fuzzing", "--max-examples", str(MAX_EXAMPLES),
         "--seed", str(SEED), "--workers", "1", "--no-color"],
        cwd=tmp_path, capture_output=True, text=True, timeout=540)
    assert run.returncode == 0, run.stdout[-12000:] + run.stderr[-2000:]
    assert "No issues found" in run.stdout or " passed" in run.stdout, run.stdout[-3000:]
