"""/api/openapi.json states the real constraints, and the server keeps exactly to them."""

from __future__ import annotations

import re

import pytest

from voice_mcp.web.schemas import NOT_BLANK

LLM = "/api/voice/llm"


def test_not_blank_is_exactly_what_the_server_strips() -> None:
    """The published pattern and Python's str.strip() agree on every character."""
    pattern = re.compile(NOT_BLANK)
    for code in range(0x110000):
        char = chr(code)
        assert (pattern.fullmatch(char) is None) == char.isspace(), hex(code)


async def test_the_description_states_limits_ids_audio_types_and_statuses(voice_client) -> None:
    client = await voice_client(max_query_chars=77, tts_max_chars=33)
    doc = await (await client.get("/api/openapi.json")).json()
    schemas, paths = doc["components"]["schemas"], doc["paths"]
    query = schemas["CommandRequest"]["properties"]["query"]
    assert (query["minLength"], query["maxLength"], query["pattern"]) == (1, 77, NOT_BLANK)
    assert schemas["SpeechRequest"]["properties"]["text"]["maxLength"] == 33
    assert schemas["ConfirmRequest"]["properties"]["confirmationId"]["pattern"] == \
        "^[A-Za-z0-9_-]{32}$"
    audio = paths["/api/voice/audio"]["post"]
    assert "audio/wav" in audio["requestBody"]["content"] and \
        "audio/*" not in audio["requestBody"]["content"]
    assert {"200", "400", "401", "413", "415", "429", "503"} <= set(audio["responses"])
    assert {"400", "401", "404", "409", "410", "413", "503"} <= \
        set(paths["/api/voice/confirm"]["post"]["responses"])
    for path, item in paths.items():
        for method, op in item.items():
            if op.get("security") == [{"bearer": []}]:
                assert "401" in op["responses"], (method, path)


@pytest.mark.parametrize(("query", "status"), [
    (" " * 10 + "x" * 45, 400),  # 55 as sent: over the limit, though 45 once stripped
    ("x" * 50, 200),
    ("\u3000\x1c", 400),  # only what str.strip() removes: blank
])
async def test_a_query_is_measured_as_sent(voice_client, openai_server, auth_for,
                                           query: str, status: int) -> None:
    client = await voice_client(max_query_chars=50)
    openai_server.script("ok")
    resp = await client.post(LLM, json={"query": query}, headers=auth_for())
    assert resp.status == status, await resp.text()


async def test_speech_text_is_measured_as_sent(voice_client, auth_for) -> None:
    client = await voice_client(tts_max_chars=20, tts="local")
    resp = await client.post("/api/voice/speech", json={"text": "hi" + " " * 30},
                             headers=auth_for())
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "text_too_long"
