"""What ships in the package serves when nothing is configured (voice_mcp/defaults)."""

from __future__ import annotations

from pathlib import Path

import pytest

from voice_mcp import defaults
from voice_mcp.services.catalog import load_catalog, parse_catalog
from voice_mcp.services.intents.loader import load_intents
from voice_mcp.settings import ConfigError, Settings, load_settings


def test_without_a_config_folder_the_shipped_catalog_and_templates_serve(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(_env_file=None)
    assert settings.catalog_file == defaults.CATALOG
    assert settings.intents_directory == defaults.INTENTS
    catalog = load_catalog(settings.catalog_file, token_keys=[])
    loaded = load_intents(settings.intents_directory, catalog.services)
    assert [found.service for found in loaded] == ["time"]


def test_a_config_folder_in_the_working_directory_wins(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "services.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    assert load_settings(_env_file=None).catalog_file == Path("config/services.toml")


def test_a_configured_catalog_that_is_missing_is_an_error(tmp_path: Path) -> None:
    settings = Settings(_env_file=None,  # type: ignore[call-arg]
                        services_file=tmp_path / "nowhere.toml")
    assert settings.catalog_file == tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError, match="catalog file not found"):
        load_catalog(settings.catalog_file, token_keys=[])


def test_a_time_server_under_another_id_gets_the_built_in_templates(tmp_path: Path) -> None:
    catalog = parse_catalog({"services": {
        "clock": {"title": "Clock", "transport": "stdio",
                  "command": ["uvx", "mcp-server-time"]},
        "notes": {"title": "Notes", "transport": "stdio", "command": ["python", "-m", "notes"]},
    }}, "test")
    loaded = load_intents(tmp_path / "intents", catalog.services)
    assert [(found.service, found.path) for found in loaded] == [
        ("clock", defaults.INTENTS / "time.yaml")]


def test_a_service_s_own_templates_replace_the_built_in_ones(tmp_path: Path) -> None:
    own = tmp_path / "intents"
    own.mkdir()
    (own / "clock.yaml").write_text((defaults.INTENTS / "time.yaml").read_text())
    catalog = parse_catalog({"services": {"clock": {
        "title": "Clock", "transport": "stdio",
        "command": ["python", "-m", "mcp_server_time"]}}}, "test")
    loaded = load_intents(own, catalog.services)
    assert [(found.service, found.path) for found in loaded] == [("clock", own / "clock.yaml")]
