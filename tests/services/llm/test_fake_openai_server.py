"""The fake OpenAI server itself, driven by the real SDK: what other tests rely on."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest

from tests.fakes.openai_server import OpenAIServer, Turn, call, last_user_text, tool_results
from tests.fixtures.openai_server import TEST_API_KEY


def sdk(server: OpenAIServer, **kwargs: Any) -> openai.AsyncOpenAI:
    kwargs.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(base_url=server.base_url, api_key=TEST_API_KEY, **kwargs)


async def test_models_and_usable_outside_pytest_fixtures():
    async with OpenAIServer(models=("m1", "m2")) as server:
        client = sdk(server)
        page = await client.models.list()
        await client.close()

    assert server.base_url.endswith("/v1")
    assert [m.id for m in page.data] == ["m1", "m2"]


async def test_dynamic_responders_sync_and_async(openai_server: OpenAIServer):
    async def echo(body: dict[str, Any]) -> str:
        return f"you said: {last_user_text(body)}"

    openai_server.script(lambda body: call("svc__tool", {"n": len(body["messages"])}))
    openai_server.responder = echo
    client = sdk(openai_server)

    first = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "one"}]
    )
    second = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "two"}]
    )
    third = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "three"}]
    )
    await client.close()

    [tool_call] = first.choices[0].message.model_dump()["tool_calls"]
    assert tool_call["function"] == {"name": "svc__tool", "arguments": '{"n": 1}'}
    assert second.choices[0].message.content == "you said: two"
    assert third.choices[0].message.content == "you said: three"
    assert openai_server.pending_turns == 0


async def test_nothing_scripted_is_a_clear_400(openai_server: OpenAIServer):
    client = sdk(openai_server, max_retries=2)

    with pytest.raises(openai.BadRequestError, match="no scripted turn"):
        await client.chat.completions.create(model="m", messages=[])
    await client.close()

    assert len(openai_server.requests) == 1  # not retried


async def test_faults_are_used_before_turns_and_counted(openai_server: OpenAIServer):
    openai_server.fail(500, times=2).fail(429, times=1)
    openai_server.script("finally")
    client = sdk(openai_server, max_retries=3)

    answer = await client.chat.completions.create(model="m", messages=[])
    await client.close()

    assert answer.choices[0].message.content == "finally"
    assert len(openai_server.requests) == 4


async def test_streamed_chunks_follow_the_openai_shape(openai_server: OpenAIServer):
    openai_server.chunk_chars = 5
    openai_server.script(Turn(content="Hello world", tool_calls=(call("a__b", {"k": "v"}),)))
    client = sdk(openai_server)

    stream = await client.chat.completions.create(
        model="m", messages=[], stream=True, stream_options={"include_usage": True}
    )
    chunks = [c async for c in stream]
    await client.close()

    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].delta.content for c in chunks[1:4]] == ["Hello", " worl", "d"]
    [first_call] = chunks[4].choices[0].delta.model_dump(exclude_none=True)["tool_calls"]
    assert first_call["index"] == 0 and first_call["id"].startswith("call_")
    assert first_call["function"] == {"name": "a__b", "arguments": ""}
    assert chunks[-2].choices[0].finish_reason == "tool_calls"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


async def test_transcription_form_is_recorded(openai_server: OpenAIServer):
    openai_server.script_transcription("hello", lambda req: f"{len(req.file)} bytes")
    client = sdk(openai_server)

    first = await client.audio.transcriptions.create(
        file=("clip.webm", b"\x1a\x45\xdf\xa3 data", "audio/webm"),
        model="whisper-1",
        language="en",
        prompt="names: Ada",
    )
    second = await client.audio.transcriptions.create(
        file=("x.wav", b"RIFF", "audio/wav"), model="whisper-1"
    )
    await client.close()

    assert (first.text, second.text) == ("hello", "4 bytes")
    record = openai_server.transcriptions[0]
    assert record.file == b"\x1a\x45\xdf\xa3 data"
    assert (record.filename, record.content_type) == ("clip.webm", "audio/webm")
    assert record.fields == {"model": "whisper-1", "language": "en", "prompt": "names: Ada"}
    assert record.api_key == TEST_API_KEY


async def test_wrong_key_gets_401(openai_server: OpenAIServer):
    openai_server.api_key = "sk-right"
    client = sdk(openai_server)

    with pytest.raises(openai.AuthenticationError):
        await client.models.list()
    await client.close()


async def test_stop_releases_hanging_requests():
    server = await OpenAIServer().start()
    server.hang(times=None)
    client = sdk(server)
    task = asyncio.create_task(client.chat.completions.create(model="m", messages=[]))
    async with asyncio.timeout(5):
        await server.wait_for_hanging()

    async with asyncio.timeout(5):
        await server.stop()
        with pytest.raises(openai.APIStatusError) as caught:
            await task
    await client.close()

    assert caught.value.status_code == 503
    assert server.hanging == 0
    assert server.disconnects == []


def test_responder_helpers():
    body = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "hi "}, {"type": "text", "text": "there"}],
            },
            {"role": "assistant", "content": None, "tool_calls": []},
            {"role": "tool", "tool_call_id": "1", "content": "a"},
            {"role": "tool", "tool_call_id": "2", "content": "b"},
        ]
    }

    assert last_user_text(body) == "hi there"
    assert [m["content"] for m in tool_results(body)] == ["a", "b"]
    assert last_user_text({"messages": []}) is None


async def test_counts_without_recording_and_waits_for_arrivals(openai_server: OpenAIServer):
    openai_server.record = False
    openai_server.responder = "ok"
    client = sdk(openai_server)

    tasks = [
        asyncio.create_task(client.chat.completions.create(model="m", messages=[]))
        for _ in range(3)
    ]
    async with asyncio.timeout(5):
        await openai_server.wait_for_requests(3)
        await asyncio.gather(*tasks)
    await client.close()

    assert openai_server.chat_count == 3
    assert openai_server.requests == []


async def test_a_delayed_answer_can_be_abandoned(openai_server: OpenAIServer):
    openai_server.delay_s = 60
    openai_server.responder = "too late"
    client = sdk(openai_server)
    task = asyncio.create_task(client.chat.completions.create(model="m", messages=[]))
    async with asyncio.timeout(5):
        await openai_server.wait_for_requests(1)

    task.cancel()

    async with asyncio.timeout(5):
        await openai_server.disconnected.wait()
    await client.close()
    assert openai_server.disconnects == ["chat"]


async def test_streams_at_the_set_pace_in_the_given_pieces() -> None:
    import time

    import openai

    from tests.fakes.openai_server import OpenAIServer, pieces

    async with OpenAIServer() as server:
        server.first_token_delay_s, server.token_interval_s = 0.1, 0.02
        server.script(pieces("Fam", "ily 👨\u200d", "👩 ok"))
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test")
        started = time.perf_counter()
        seen: list[tuple[float, str]] = []
        stream = await client.chat.completions.create(model="m", messages=[], stream=True)
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                seen.append((time.perf_counter() - started, chunk.choices[0].delta.content))
        await client.close()
    assert [text for _, text in seen] == ["Fam", "ily 👨\u200d", "👩 ok"]
    assert seen[0][0] >= 0.1 and seen[2][0] - seen[0][0] >= 0.04  # lower bounds only
    assert len(server.first_token_at) == 1
