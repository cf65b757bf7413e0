"""A service's question answered by voice on the listen socket that runs the command: a
`start` with `answer` streams the answer (espeak-ng speech, paced as a microphone), its words
go the way of the input route's words (the same mapping, the same 422, as socket messages)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import WSMsgType
from aiohttp.client import ClientWebSocketResponse

from tests.fakes.openai_server import text, tool_turn
from tests.mcp_servers.runner import RunningServer
from tests.web.routes.test_listen import LISTEN, TIMEOUT_S, send_audio, start
from voice_mcp.services.stt.pcm import wav_to_pcm16

Message = dict[str, Any]


@pytest.fixture
def speech_pcm(speech_samples):  # type: ignore[no-untyped-def]
    """Words said by espeak-ng, as the 16 kHz PCM a microphone worklet sends."""
    return lambda said: wav_to_pcm16(speech_samples.read("wav", said))


def _service(server: RunningServer) -> Any:
    return server.service("questions", title="Pizza Place",
                          risk={"order_pizza": "low", "deliver": "low"})


def _asked(message: Message) -> bool:
    return message.get("event") == "progress" and message["data"].get("type") == "input_required"


def _settled(message: Message) -> bool:
    return message["type"] in ("answered", "answer_error")


def _done(message: Message) -> bool:
    return message.get("event") == "done"


async def _until(ws: ClientWebSocketResponse, predicate: Callable[[Message], bool]
                 ) -> list[Message]:
    """Every message up to and including the first that `predicate` accepts."""
    messages: list[Message] = []
    async with asyncio.timeout(TIMEOUT_S):
        while not messages or not predicate(messages[-1]):
            messages.append(await ws.receive_json())
    return messages


async def _say(ws: ClientWebSocketResponse, pcm: bytes, **fields: Any) -> None:
    """One push-to-talk utterance: `start` (with `fields`), the frames, `stop`."""
    await ws.send_json(start(**fields))
    await send_audio(ws, pcm)
    await ws.send_json({"type": "stop"})


async def test_an_enum_question_is_answered_by_voice_on_the_same_socket(
        voice_client, question_server, openai_server, auth_for, speech_pcm) -> None:
    openai_server.script_transcription("order a pizza", "umm", "the large one", "two",
                                       "what time is it")
    # The LLM reads the words the rules cannot map ("umm"): nothing it reads fits.
    openai_server.script(tool_turn(("questions__order_pizza", {})), text("{}"),
                         text("Ordered."))
    client = await voice_client(_service(question_server))
    async with client.ws_connect(LISTEN, headers=auth_for()) as ws:
        await _say(ws, speech_pcm("order a pizza"))
        size = (await _until(ws, _asked))[-1]["data"]
        assert size["fields"][0]["enum"] == ["small", "large"]

        await _say(ws, speech_pcm("umm"), answer=size["inputId"])
        heard = await _until(ws, _settled)
        assert {"type": "transcript", "text": "umm", "inputId": size["inputId"]} in heard
        refused = heard[-1]
        assert refused["type"] == "answer_error" and refused["status"] == 422, refused
        assert refused["code"] == "input_invalid" and "size" in refused["message"]
        assert refused["inputId"] == size["inputId"]

        await _say(ws, speech_pcm("the large one"), answer=size["inputId"])  # still open
        assert (await _until(ws, _settled))[-1] == {"type": "answered",
                                                     "inputId": size["inputId"]}
        count = (await _until(ws, _asked))[-1]["data"]
        assert count["message"] == "Pizza Place asks: How many?"
        await _say(ws, speech_pcm("two"), answer=count["inputId"])
        messages = await _until(ws, _done)
        assert {"type": "answered", "inputId": count["inputId"]} in messages
        done = messages[-1]["data"]
        assert done["status"] == "completed" and done["response"] == "Ordered."
        assert done["results"][0]["output"] == \
            'order: accept {"size": "large"}; accept {"count": 2}'

        # The command is over: an answer now is refused as the input route would (409),
        # without being transcribed; the socket then takes the next command.
        await _say(ws, speech_pcm("small"), answer=size["inputId"])
        late = await _until(ws, _settled)
        assert late == [{"type": "answer_error", "inputId": size["inputId"], "status": 409,
                         "code": "input_closed", "retryable": False,
                         "message": "No command on this socket is waiting for an answer."}]
        openai_server.script(text("Noon."))
        await _say(ws, speech_pcm("what time is it"))
        assert (await _until(ws, _done))[-1]["data"]["response"] == "Noon."
    assert question_server.stats.tool_calls["order_pizza"] == 3
    assert openai_server.transcription_count == 5
    # An answer's words go to the speech server as its prompt; a command's speech has none.
    prompts = [t.fields.get("prompt") for t in openai_server.transcriptions]
    assert prompts[0] is None and prompts[-1] is None
    assert "the large one" in (prompts[2] or "") and "small" in (prompts[2] or "")
    assert "two" in (prompts[3] or "")


async def test_a_yes_no_question_is_answered_by_voice_recognised_offline(
        voice_client, question_server, openai_server, auth_for, speech_pcm) -> None:
    """Offline recognition (pocketsphinx) of the streamed answer, no speech server."""
    openai_server.script(tool_turn(("questions__deliver", {})), text("On its way."))
    client = await voice_client(_service(question_server), stt="local", stt_base_url=None,
                                stt_timeout_s=300)
    async with client.ws_connect(LISTEN, headers=auth_for()) as ws:
        await _say(ws, speech_pcm("deliver my order"))
        doorstep = (await _until(ws, _asked))[-1]["data"]
        assert doorstep["fields"][0]["type"] == "boolean"
        await _say(ws, speech_pcm("yes"), answer=doorstep["inputId"])
        messages = await _until(ws, _done)
    heard = [m for m in messages if m["type"] == "transcript"]
    assert heard == [{"type": "transcript", "text": "yes", "inputId": doorstep["inputId"]}]
    assert {"type": "answered", "inputId": doorstep["inputId"]} in messages
    done = messages[-1]["data"]
    assert done["results"][0]["output"] == 'delivery: accept {"doorstep": true}'
    assert openai_server.transcription_count == 0


async def test_a_plain_start_while_a_question_is_open_is_the_next_command(
        voice_client, question_server, openai_server, auth_for, speech_pcm) -> None:
    """Not an answer: kept, and heard after `done` (the question times out meanwhile)."""
    openai_server.script_transcription("deliver my order", "what time is it")
    openai_server.script(tool_turn(("questions__deliver", {})), text("Not delivered."),
                         text("Noon."))
    client = await voice_client(_service(question_server), input_timeout_s=1.5)
    async with client.ws_connect(LISTEN, headers=auth_for()) as ws:
        await _say(ws, speech_pcm("deliver my order"))
        await _until(ws, _asked)
        await _say(ws, speech_pcm("what time is it"))  # no `answer`
        first = await _until(ws, _done)
        assert not [m for m in first if m["type"] in ("transcript", "answered",
                                                      "answer_error")], first
        assert first[-1]["data"]["results"][0]["output"] == "delivery: cancel null"
        second = await _until(ws, _done)
    assert second[0] == {"type": "transcript", "text": "what time is it"}
    assert second[-1]["data"]["response"] == "Noon."
    assert second[-1]["data"]["commandId"] != first[-1]["data"]["commandId"]


async def test_a_bad_message_while_a_command_runs_closes_with_4400(
        voice_client, question_server, openai_server, auth_for, speech_pcm) -> None:
    openai_server.script_transcription("deliver my order")
    openai_server.script(tool_turn(("questions__deliver", {})), text("Done."))
    client = await voice_client(_service(question_server))
    async with client.ws_connect(LISTEN, headers=auth_for()) as ws:
        await _say(ws, speech_pcm("deliver my order"))
        await _until(ws, _asked)
        await ws.send_json({"type": "start", "answer": "", "sampleRate": 16000,
                            "mode": "vad"})
        async with asyncio.timeout(TIMEOUT_S):
            while (message := await ws.receive()).type == WSMsgType.TEXT:
                pass
    assert message.type == WSMsgType.CLOSE and message.data == 4400, message
    assert "answer" in str(message.extra)


async def test_offline_an_answer_is_heard_among_the_questions_own_phrases(
        voice_client, question_server, openai_server, auth_for, speech_pcm) -> None:
    """Open vocabulary hears "large" alone as "launch"; the question's options are heard."""
    openai_server.script(tool_turn(("questions__order_pizza", {})), text("Ordered."))
    client = await voice_client(_service(question_server), stt="local", stt_base_url=None,
                                stt_timeout_s=300)
    async with client.ws_connect(LISTEN, headers=auth_for()) as ws:
        await _say(ws, speech_pcm("order a pizza"))
        size = (await _until(ws, _asked))[-1]["data"]
        await _say(ws, speech_pcm("large"), answer=size["inputId"])
        heard = await _until(ws, _settled)
        assert heard[-2:] == [{"type": "transcript", "text": "large", "inputId": size["inputId"]},
                              {"type": "answered", "inputId": size["inputId"]}], heard
        count = (await _until(ws, _asked))[-1]["data"]
        await _say(ws, speech_pcm("two please"), answer=count["inputId"])
        messages = await _until(ws, _done)
    [transcript] = [m for m in messages if m["type"] == "transcript"]
    assert transcript["text"] == "two please"
    assert messages[-1]["data"]["results"][0]["output"] == \
        'order: accept {"size": "large"}; accept {"count": 2}'
