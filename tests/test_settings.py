"""Settings: defaults, environment, and one clear line for a wrong value."""

from __future__ import annotations

import pytest

from voice_mcp.settings import ConfigError, Settings, load_settings


def test_defaults_match_the_api_reference() -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (s.host, s.port, s.public_url) == ("127.0.0.1", 8080, "http://127.0.0.1:8080")
    assert s.redis_url is None and s.jwt_secret is None
    assert s.max_query_chars == 500 and s.request_timeout_s == 60 and s.heartbeat_s == 15
    assert s.confirm_risk == "high" and s.confirmation_ttl_s == 300
    assert s.max_audio_bytes == 26214400 and s.stt_model == "whisper-1"
    assert not s.llm_configured
    assert s.tool_budget == 48 and s.embedding_model is None


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICE_MCP_PORT", "9090")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("VOICE_MCP_CONFIRM_RISK", "medium")
    monkeypatch.setenv("VOICE_MCP_TOKEN_KEY", "k1, k2")
    s = load_settings(_env_file=None)
    assert s.port == 9090 and s.confirm_risk == "medium" and s.llm_configured
    assert s.token_keys == ["k1", "k2"]


def test_dotenv_file_is_read(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("VOICE_MCP_PORT=7070\nVOICE_MCP_LLM_BASE_URL=http://x/v1/\n")
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.port == 7070 and s.llm_base_url == "http://x/v1" and s.llm_configured


@pytest.mark.parametrize(("name", "value"), [
    ("VOICE_MCP_PORT", "eighty"),
    ("VOICE_MCP_PORT", "70000"),
    ("VOICE_MCP_CONFIRM_RISK", "low"),
    ("VOICE_MCP_MAX_QUERY_CHARS", "0"),
    ("VOICE_MCP_REQUEST_TIMEOUT_S", "-1"),
    ("VOICE_MCP_TOOL_BUDGET", "2"),
])
def test_a_wrong_value_names_the_variable(name: str, value: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None)
    message = str(info.value)
    assert message.startswith(f"{name}: ") and "\n" not in message


def test_an_empty_embedding_model_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICE_MCP_EMBEDDING_MODEL", " ")
    assert load_settings(_env_file=None).embedding_model is None
    monkeypatch.setenv("VOICE_MCP_EMBEDDING_MODEL", "text-embedding-3-small")
    assert load_settings(_env_file=None).embedding_model == "text-embedding-3-small"


def test_env_example_lists_every_variable() -> None:
    from pathlib import Path

    example = (Path(__file__).resolve().parents[1] / "config" / ".env.example").read_text()
    for name in Settings.model_fields:
        env = "OPENAI_API_KEY" if name == "openai_api_key" else f"VOICE_MCP_{name.upper()}"
        assert env in example, f"{env} is missing from config/.env.example"
