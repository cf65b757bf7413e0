"""The service catalog: the shipped file loads; each bad case names file, service and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from voice_mcp.services.catalog import load_catalog
from voice_mcp.settings import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_catalog_loads_with_a_working_local_service() -> None:
    catalog = load_catalog(ROOT / "config" / "services.toml", token_keys=[])
    time = catalog.services["time"]
    assert time.transport == "stdio" and time.command and time.is_shared


def test_full_example_parses(tmp_path: Path) -> None:
    path = tmp_path / "services.toml"
    path.write_text("""
[services.calendar]
title = "Calendar"
transport = "streamable-http"
url = "https://mcp.example.com/mcp"
auth = "oauth"
scopes = ["calendar.read"]
client_id_env = "CAL_ID"
client_secret_env = "CAL_SECRET"
issuer = "https://auth.example.com"
[services.calendar.risk]
"delete_*" = "high"
"list_*" = "low"
""")
    catalog = load_catalog(path, token_keys=["k"])
    cal = catalog.services["calendar"]
    assert cal.risk == {"delete_*": "high", "list_*": "low"} and not cal.is_shared
    assert cal.issuer == "https://auth.example.com"


BAD_CASES = [
    ('[services.a]\ntitle="A"\ntransport="carrier-pigeon"\ncommand=["x"]', "service 'a'",
     "field 'transport'"),
    ('[services.a]\ntitle="A"\ntransport="stdio"', "service 'a'", "field 'command'"),
    ('[services.a]\ntitle="A"\ntransport="streamable-http"', "service 'a'", "field 'url'"),
    ('[services.a]\ntitle="A"\ntransport="sse"\nurl="ftp://x"', "service 'a'", "field 'url'"),
    ('[services.Bad_ID]\ntitle="A"\ntransport="stdio"\ncommand=["x"]', "service 'Bad_ID'",
     "field 'id'"),
    ('[services.a]\ntitle="A"\ntransport="stdio"\ncommand=["x"]\n[services.a.risk]\n"x*"="scary"',
     "service 'a'", "field 'risk.x*'"),
    ('[services.a]\ntransport="stdio"\ncommand=["x"]', "service 'a'", "field 'title'"),
    ('[services.a]\ntitle="A"\ntransport="stdio"\ncommand=["x"]\ncolour="red"', "service 'a'",
     "field 'colour'"),
    ('[services.a]\ntitle="A"\ntransport="streamable-http"\nurl="https://x"\nauth="bearer"',
     "service 'a'", "field 'token_env'"),
    ('[services.a]\ntitle="A"\ntransport="streamable-http"\nurl="https://x"\nauth="oauth"',
     "service 'a'", "VOICE_MCP_TOKEN_KEY"),
    # A client secret goes only to the authorization server the operator pinned.
    ('[services.a]\ntitle="A"\ntransport="streamable-http"\nurl="https://x"\nauth="oauth"\n'
     'client_id_env="A_ID"\nclient_secret_env="A_SECRET"', "service 'a'",
     "field 'issuer': required with client_secret_env"),
    ('[services.a]\ntitle="A"\ntransport="streamable-http"\nurl="https://x"\nauth="oauth"\n'
     'client_id_env="A_ID"\nclient_secret_env="A_SECRET"\nissuer="javascript:x"',
     "service 'a'", "field 'issuer'"),
    ('[services.a]\ntitle="A"\ntransport="streamable-http"\nurl="https://x"\n'
     'issuer="https://auth.example.com"', "service 'a'", "field 'issuer'"),
]


@pytest.mark.parametrize(("text", "service", "field"), BAD_CASES)
def test_bad_catalog_names_file_service_and_field(tmp_path: Path, text: str, service: str,
                                                  field: str) -> None:
    path = tmp_path / "services.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_catalog(path, token_keys=[])
    message = str(info.value)
    assert str(path) in message and service in message and field in message, message


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_catalog(tmp_path / "nope.toml", token_keys=[])
    bad = tmp_path / "bad.toml"
    bad.write_text("[services.a\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_catalog(bad, token_keys=[])
