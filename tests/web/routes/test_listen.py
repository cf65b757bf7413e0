"""The listen socket: speech streamed over a real WebSocket to the real app, recognised while
it arrives, then the command's events; bad input closes with a clear code."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType
from aiohttp.client import ClientWebSocketResponse

from tests.fakes.openai_server import text
from voice_mcp.services.stt.pcm import RATE, wav_to_pcm16
from voice_mcp.web.listen_limits import SOCKETS_PER_USER
from voice_mcp.web.routes import listen
from voice_mcp.web.routes.listen import MAX_FRAME_BYTES

TIME_INTENTS = Path(__file__).resolve().parents[3] / "config" / "intents"
LISTEN = "/api/voice/listen"
FRAME = RATE * 2 // 10  # 100 ms of audio per frame
TIMEOUT_S = 120  # a loaded CI machine decodes slowly; nothing here waits this long when idle


def start(mode: str = "push-to-talk", **extra: Any) -> dict[str, Any]:
    return {"type": "start", "sampleRate": RATE, "mode": mode, **extra}


async def send_audio(ws: ClientWebSocketResponse, pcm: bytes) -> None:
    """Frames paced as a microphone sends them, five times faster than real time."""
    for offset in range(0, len(pcm), FRAME):
        await ws.send_bytes(pcm[offset:offset + FRAME])
        await asyncio.sleep(0.02)


async def until_done(ws: ClientWebSocketResponse) -> list[dict[str, Any]]:
    """Every message up to and including the `done` event."""
    messages: list[dict[str, Any]] = []
    async with asyncio.timeout(TIMEOUT_S):
        while not messages or messages[-1].get("event") != "done":
            messages.append(await ws.receive_json())
    return messages


async def closed_with(ws: ClientWebSocketResponse) -> tuple[int, str]:
    async with asyncio.timeout(TIMEOUT_S):
        message = await ws.receive()
    assert message.type == WSMsgType.CLOSE, message
    return int(message.data), str(message.extra)


@pytest.fixture
def speech_pcm(speech_samples):  # type: ignore[no-untyped-def]
    """A sentence said by espeak-ng, as the 16 kHz PCM a microphone worklet sends."""
    return lambda said="what time is it in Tokyo": wav_to_pcm16(speech_samples.read("wav", said))


@pytest.fixture
def offline_client(voice_client, time_service):  # type: ignore[no-untyped-def]
    """Nothing configured: offline speech and the shipped time templates, no LLM."""
    return lambda: voice_client(time_service, local_intents="prefer", intents_dir=TIME_INTENTS,
                                openai_api_key=None, llm_base_url=None, stt_base_url=None,
                                stt="local", stt_timeout_s=300)


async def test_push_to_talk_then_vad_on_one_socket_run_offline(
        offline_client, openai_server, token_for, speech_pcm, speech_samples) -> None:
    client = await offline_client()
    pcm = speech_pcm()
    async with client.ws_connect(LISTEN) as ws:
        await ws.send_json(start(token=token_for(), conversationId="c1"))
        first_partial = asyncio.Event()

        async def speak_then_stop() -> None:
            await send_audio(ws, pcm)
            async with asyncio.timeout(TIMEOUT_S):
                await first_partial.wait()  # heard while speaking, before the stop
            await ws.send_json({"type": "stop"})

        speaker = asyncio.create_task(speak_then_stop())
        messages: list[dict[str, Any]] = []
        async with asyncio.timeout(TIMEOUT_S):
            while not messages or messages[-1].get("event") != "done":
                messages.append(await ws.receive_json())
                if messages[-1]["type"] == "partial":
                    first_partial.set()
        await speaker
        heard = [m for m in messages if m["type"] in ("partial", "transcript")]
        assert heard[0]["type"] == "partial" and heard[0]["text"], messages
        assert heard[-1] == {"type": "transcript", "text": "what time is it in tokyo"}
        events = [m for m in messages if m["type"] == "event"]
        assert [e["id"] for e in events] == list(range(1, len(events) + 1))
        assert "commandId" in events[0]["data"]
        stages = [e["data"].get("type") for e in events if e["event"] == "progress"]
        assert stages[:2] == ["transcribing", "transcribed"], stages
        done = events[-1]["data"]
        assert done["status"] == "completed" and done["processedLocally"] is True, done
        assert done["transcript"] == "what time is it in tokyo"
        assert done["conversationId"] == "c1"

        # The same socket takes the next start: vad mode ends on the silence after speech.
        await ws.send_json(start("vad", conversationId="c1"))
        await send_audio(ws, speech_pcm("what time is it in Paris") + bytes(RATE * 2))
        messages = await until_done(ws)
        [transcript] = [m for m in messages if m["type"] == "transcript"]
        assert transcript["text"] == "what time is it in paris"
        done = messages[-1]["data"]
        assert done["status"] == "completed" and done["transcript"] == transcript["text"]
    upload = await client.post("/api/voice/audio", data=speech_samples.read("wav"),
                               headers={"Authorization": f"Bearer {token_for()}",
                                        "Content-Type": "audio/wav"})
    assert (await upload.json())["transcript"] == "what time is it in tokyo"  # the same
    assert openai_server.chat_count == 0 and openai_server.transcription_count == 0


async def test_with_a_speech_server_the_utterance_is_sent_whole(
        voice_client, openai_server, auth_for, speech_pcm) -> None:
    """An OpenAI-compatible server: one WAV at the end, the header's token, the same events."""
    openai_server.script_transcription("what is the weather").script(text("Sunny."))
    client = await voice_client()
    pcm = speech_pcm()
    async with client.ws_connect(LISTEN, headers=auth_for()) as ws:
        await ws.send_json(start())
        await send_audio(ws, pcm[:FRAME * 3 + 1])  # an odd byte count is fine
        await send_audio(ws, pcm[FRAME * 3 + 1:])
        await ws.send_json({"type": "stop"})
        messages = await until_done(ws)
    assert messages[0] == {"type": "transcript", "text": "what is the weather"}
    assert messages[-1]["data"]["response"] == "Sunny."
    assert [e["event"] for e in messages[1:]].count("done") == 1
    [received] = openai_server.transcriptions
    assert received.file[:4] == b"RIFF" and wav_to_pcm16(received.file) == pcm


async def test_with_a_realtime_server_the_audio_streams_while_the_user_speaks(
        voice_client, openai_server, auth_for, speech_pcm) -> None:
    """`VOICE_MCP_STT_REALTIME=on`: appended to a Realtime session as it arrives, the server's
    deltas as `partial` messages, its transcript at `stop`; nothing uploaded."""
    openai_server.realtime.enabled = True
    openai_server.script_transcription("what is the weather in Lisbon").script(text("Sunny."))
    client = await voice_client(stt_realtime="on")
    pcm = speech_pcm()
    async with client.ws_connect(LISTEN, headers=auth_for()) as ws:
        await ws.send_json(start())
        await send_audio(ws, pcm)
        await ws.send_json({"type": "stop"})
        messages = await until_done(ws)
    partials = [m["text"] for m in messages if m.get("type") == "partial"]
    assert partials and "what is the weather in Lisbon".startswith(partials[-1].strip())
    assert {"type": "transcript", "text": "what is the weather in Lisbon"} in messages
    assert messages[-1]["data"]["response"] == "Sunny."
    [session] = openai_server.realtime.sessions
    assert session.committed and abs(len(session.audio) - len(pcm) * 3 // 2) <= 2  # 24 kHz
    assert openai_server.transcriptions == []


@pytest.mark.parametrize("first", [
    b"\x00\x01",
    "not json",
    '["start"]',
    '{"type": "stop"}',
    '{"type": "start", "sampleRate": 44100, "mode": "vad"}',
    '{"type": "start", "sampleRate": 16000, "mode": "always"}',
    '{"type": "start", "sampleRate": 16000, "mode": "vad", "conversationId": "a b"}',
])
async def test_a_bad_first_message_closes_with_4400(voice_client, auth_for, first) -> None:
    client = await voice_client()
    async with client.ws_connect(LISTEN, headers=auth_for()) as ws:
        if isinstance(first, bytes):
            await ws.send_bytes(first)
        else:
            await ws.send_str(first)
        code, reason = await closed_with(ws)
    assert code == 4400 and reason


@pytest.mark.parametrize("token", [None, "", "not-a-jwt"])
async def test_a_missing_or_bad_token_closes_with_4401(voice_client, token) -> None:
    client = await voice_client()
    async with client.ws_connect(LISTEN) as ws:
        await ws.send_json(start() if token is None else start(token=token))
        code, reason = await closed_with(ws)
    assert code == 4401 and reason and "Traceback" not in reason


async def test_a_frame_over_the_limit_closes_the_socket(voice_client, auth_for) -> None:
    client = await voice_client()
    async with client.ws_connect(LISTEN, headers=auth_for()) as ws:
        await ws.send_json(start())
        await ws.send_bytes(bytes(MAX_FRAME_BYTES + 2))
        code, _ = await closed_with(ws)
    assert code == 1009  # message too big


async def test_an_utterance_too_long_ends_with_an_error_event_then_the_next_start_works(
        voice_client, openai_server, auth_for) -> None:
    openai_server.script_transcription("hello").script(text("Hi."))
    client = await voice_client()
    async with client.ws_connect(LISTEN, headers=auth_for()) as ws:
        await ws.send_json(start())
        second = bytes(RATE * 2)
        for _ in range(16):
            await ws.send_bytes(second[:MAX_FRAME_BYTES // 2])
            await ws.send_bytes(second[MAX_FRAME_BYTES // 2:])
        await ws.send_json({"type": "stop"})
        messages = await until_done(ws)
        assert all(m["type"] == "event" for m in messages), messages  # no transcript
        [error] = [m["data"] for m in messages if m["event"] == "error"]
        assert error["code"] == "audio_too_long"
        assert messages[-1]["data"]["status"] == "failed"
        await ws.send_json(start())
        await ws.send_bytes(second)
        await ws.send_json({"type": "stop"})
        messages = await until_done(ws)
    assert messages[0] == {"type": "transcript", "text": "hello"}
    assert messages[-1]["data"]["status"] == "completed"
    assert openai_server.transcription_count == 1  # the long one never left the server


async def test_a_user_holds_a_bounded_number_of_sockets(voice_client, auth_for) -> None:
    client = await voice_client()
    held = [await client.ws_connect(LISTEN, headers=auth_for())
            for _ in range(SOCKETS_PER_USER + 1)]
    for ws in held:
        await ws.send_json(start())
    code, _ = await closed_with(held[-1])
    assert code == 4429
    async with client.ws_connect(LISTEN, headers=auth_for("bob")) as other:
        await other.send_json(start())  # another user is not counted against alice
        await other.send_json({"type": "ping"})
        code, _ = await closed_with(other)
    assert code == 4400  # read and refused: the socket was admitted
    for ws in held[:-1]:
        await ws.close()


async def test_speech_input_off_closes_with_4503(voice_client, auth_for) -> None:
    client = await voice_client(stt="off")
    async with client.ws_connect(LISTEN, headers=auth_for()) as ws:
        await ws.send_json(start())
        code, reason = await closed_with(ws)
    assert code == 4503 and "VOICE_MCP_STT=off" in reason


async def test_a_silent_client_is_closed_with_4408(voice_client, auth_for, monkeypatch) -> None:
    monkeypatch.setattr(listen, "IDLE_S", 0.2)
    client = await voice_client()
    async with client.ws_connect(LISTEN, headers=auth_for()) as ws:
        await ws.send_json(start())
        await ws.send_bytes(bytes(FRAME))
        code, _ = await closed_with(ws)  # nothing more sent
    assert code == 4408
