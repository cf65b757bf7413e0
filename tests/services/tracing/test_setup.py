"""When traces are on (docs/operations.md, "Traces"): only the standard OTEL_* variables
decide; with none set the SDK is never imported and commands make no span."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.runtime.test_cli import ROOT, _env
from voice_mcp.services import tracing
from voice_mcp.services.tracing import setup

NO_SDK_SCRIPT = """
import sys
from voice_mcp.services import tracing
from voice_mcp.services.catalog import Catalog
from voice_mcp.settings import Settings
from voice_mcp.web.app import create_app

create_app(Settings(_env_file=None, jwt_secret="x" * 40), catalog=Catalog(services={}))
assert tracing.begin_command("c", "u", "v", "q") is None
with tracing.llm_request("m", "http://h", stream=False) as span:
    assert span.span is None
# (redis-py imports the SDK's metrics part by itself when installed; tracing is ours)
print(sorted(m for m in sys.modules if m.startswith((
    "opentelemetry.sdk.trace", "opentelemetry.exporter", "opentelemetry.instrumentation"))))
"""


@pytest.mark.parametrize(("env", "expected"), [
    ({}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": " "}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
    ({"OTEL_SERVICE_NAME": "voice"}, False),
])
def test_only_an_otlp_endpoint_turns_traces_on(env: dict[str, str], expected: bool) -> None:
    assert setup.wanted(env) is expected


def test_with_nothing_set_the_sdk_is_never_imported(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", NO_SDK_SCRIPT], capture_output=True, text=True,
                         cwd=tmp_path, env=_env(PYTHONPATH=str(ROOT)), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_otel_lines_of_dotenv_count_but_the_process_environment_wins(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("OTEL_EXPORTER_OTLP_ENDPOINT=http://from-file:4318\n"
                                   "OTEL_SERVICE_NAME=from-file\nVOICE_MCP_PORT=9\n")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-process")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    setup._dotenv_otel(tmp_path / ".env")
    import os

    assert os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://from-file:4318"
    assert os.environ["OTEL_SERVICE_NAME"] == "from-process"
    assert "VOICE_MCP_PORT" not in os.environ
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")


def test_helpers_do_nothing_while_tracing_is_off() -> None:
    assert not tracing.STATE.enabled
    assert tracing.carrier() == {} and tracing.capture() is None
    with tracing.stages(), tracing.running(None), tracing.tool_call(
            "s", "t", "stdio", None, {"secret": 1}) as span:
        tracing.lap("plan")
        span.content("gen_ai.tool.call.arguments", {"secret": 1})
        assert span.span is None
