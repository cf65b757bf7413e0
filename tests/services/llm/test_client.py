"""LLMClient against the fake OpenAI server, through the real SDK, streamed and not."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.fakes.openai_server import OpenAIServer, Turn, call, tool_turn
from tests.fixtures.openai_server import TEST_API_KEY, settings_for
from voice_mcp.errors import LLMNotConfigured, LLMUnavailable
from voice_mcp.services.llm import (
    ASK_USER,
    ASK_USER_TOOL,
    LLMClient,
    tool_result_message,
)
from voice_mcp.services.providers.openai import PLACEHOLDER_API_KEY

USER = [{"role": "user", "content": "what time is it in Tokyo"}]
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "time__get_current_time",
        "description": "Current time in a timezone",
        "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}},
    },
}

MakeClient = Callable[..., LLMClient]


@pytest.fixture(params=[True, False], ids=["stream", "whole"])
def stream(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
async def make_client(openai_server: OpenAIServer, stream: bool) -> AsyncIterator[MakeClient]:
    """Build LLMClients on the fake server (streamed or not), closed after the test."""
    made: list[LLMClient] = []

    def make(**overrides: Any) -> LLMClient:
        overrides.setdefault("llm_stream", stream)
        client = LLMClient(settings_for(openai_server, **overrides))
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_text_answer(openai_server: OpenAIServer, make_client: MakeClient, stream: bool):
    openai_server.script("It is nine in the evening in Tokyo.")
    client = make_client()

    turn = await client.complete(USER, [])

    assert turn.content == "It is nine in the evening in Tokyo."
    assert turn.tool_calls == []
    assert turn.finish_reason == "stop"
    assert turn.usage is not None and turn.usage.total_tokens > 0
    sent = openai_server.requests[0]
    assert sent.messages == USER
    assert sent.model == "gpt-5-mini"
    assert sent.stream is stream
    assert "tools" not in sent.body  # an empty tools array is left out
    assert sent.api_key == TEST_API_KEY
    assert client.request_count == 1


async def test_tool_call_arguments_are_joined_across_chunks(
    openai_server: OpenAIServer, make_client: MakeClient
):
    openai_server.chunk_chars = 3
    arguments = {"timezone": "Asia/Tokyo", "note": 'ünïcode ✓ and "quotes"'}
    openai_server.script(tool_turn(call("time__get_current_time", arguments, id="call_1")))
    client = make_client()

    turn = await client.complete(USER, [TIME_TOOL])

    assert turn.content is None
    assert turn.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments, c.parse_error) for c in turn.tool_calls] == [
        ("call_1", "time__get_current_time", arguments, None)
    ]
    assert json.loads(turn.tool_calls[0].raw_arguments) == arguments
    sent = openai_server.requests[0]
    assert sent.tools == [TIME_TOOL]
    assert "tool_choice" not in sent.body  # the default; vLLM refuses "auto" unless enabled


@pytest.mark.parametrize("interleave", [False, True], ids=["sequential", "interleaved"])
async def test_several_tool_calls_in_one_turn(
    openai_server: OpenAIServer, make_client: MakeClient, interleave: bool
):
    openai_server.chunk_chars = 4
    openai_server.interleave = interleave
    openai_server.script(
        tool_turn(
            call("time__get_current_time", {"timezone": "Asia/Tokyo"}),
            call("time__get_current_time", {"timezone": "Europe/Paris"}),
            call("git__git_status", {"repo_path": "/srv/repo"}),
            content="Checking.",
        )
    )
    client = make_client()

    turn = await client.complete(USER, [TIME_TOOL])

    assert turn.content == "Checking."
    assert [(c.name, c.arguments) for c in turn.tool_calls] == [
        ("time__get_current_time", {"timezone": "Asia/Tokyo"}),
        ("time__get_current_time", {"timezone": "Europe/Paris"}),
        ("git__git_status", {"repo_path": "/srv/repo"}),
    ]
    assert len({c.id for c in turn.tool_calls}) == 3


@pytest.mark.parametrize(
    ("raw", "arguments", "error"),
    [
        ('{"timezone": "Asia/To', {}, "not valid JSON"),
        ("[1, 2]", {}, "must be a JSON object"),
        ('"Asia/Tokyo"', {}, "must be a JSON object"),
        ("", {}, None),
        ("  {}  ", {}, None),
    ],
    ids=["truncated", "array", "string", "empty", "blank-object"],
)
async def test_bad_arguments_are_reported_not_raised(
    openai_server: OpenAIServer,
    make_client: MakeClient,
    raw: str,
    arguments: dict[str, Any],
    error: str | None,
):
    openai_server.script(tool_turn(call("time__get_current_time", raw)))
    client = make_client()

    turn = await client.complete(USER, [TIME_TOOL])

    [tool_call] = turn.tool_calls
    assert tool_call.arguments == arguments
    assert tool_call.raw_arguments == raw
    if error is None:
        assert tool_call.parse_error is None
    else:
        assert tool_call.parse_error is not None and error in tool_call.parse_error
    # The history echo stays parseable for servers that render it through a template.
    assert json.loads(turn.to_message()["tool_calls"][0]["function"]["arguments"]) == arguments


async def test_tool_results_go_back_in_the_next_request(
    openai_server: OpenAIServer, make_client: MakeClient
):
    def answer_from_tool_result(body: dict[str, Any]) -> Turn:
        [result] = [m for m in body["messages"] if m["role"] == "tool"]
        return Turn(content=f"It is {json.loads(result['content'])['time']}.")

    openai_server.script(
        tool_turn(call("time__get_current_time", {"timezone": "Asia/Tokyo"}, id="call_7")),
        answer_from_tool_result,
    )
    client = make_client()
    messages: list[dict[str, Any]] = list(USER)

    first = await client.complete(messages, [TIME_TOOL])
    messages.append(first.to_message())
    messages.append(tool_result_message(first.tool_calls[0].id, {"time": "21:14"}))
    second = await client.complete(messages, [TIME_TOOL])

    assert second.content == "It is 21:14."
    sent = openai_server.requests[1]
    assert sent.messages[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_7",
                "type": "function",
                "function": {
                    "name": "time__get_current_time",
                    "arguments": '{"timezone": "Asia/Tokyo"}',
                },
            }
        ],
    }
    assert sent.tool_results == [
        {"role": "tool", "tool_call_id": "call_7", "content": '{"time": "21:14"}'}
    ]
    assert client.request_count == 2


async def test_ask_user_tool_round_trip(openai_server: OpenAIServer, make_client: MakeClient):
    openai_server.script(tool_turn(call(ASK_USER, {"question": "Which repository?"})))
    client = make_client()

    turn = await client.complete(USER, [TIME_TOOL, ASK_USER_TOOL])

    assert [(c.name, c.arguments) for c in turn.tool_calls] == [
        (ASK_USER, {"question": "Which repository?"})
    ]
    assert openai_server.requests[0].tool_names == ["time__get_current_time", ASK_USER]


async def test_rate_limit_then_success_is_retried_by_the_sdk(
    openai_server: OpenAIServer, make_client: MakeClient
):
    openai_server.fail(429, times=1)
    openai_server.script("Done.")
    client = make_client(llm_max_retries=2)

    turn = await client.complete(USER, [])

    assert turn.content == "Done."
    assert len(openai_server.requests) == 2
    assert client.request_count == 1


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_persistent_server_failure_is_llm_unavailable(
    openai_server: OpenAIServer, make_client: MakeClient, status: int
):
    openai_server.fail(status, times=None)
    client = make_client(llm_max_retries=2)

    with pytest.raises(LLMUnavailable) as caught:
        await client.complete(USER, [])

    assert caught.value.code == "llm_unavailable"
    assert caught.value.retryable is True
    assert caught.value.retry_after == 1
    assert f"HTTP {status}" in caught.value.message
    assert len(openai_server.requests) == 3  # the first try and two SDK retries
    assert TEST_API_KEY not in caught.value.message


async def test_rejected_key_is_auth_failure_without_retry(
    openai_server: OpenAIServer, make_client: MakeClient
):
    openai_server.api_key = "sk-the-right-one"
    client = make_client(openai_api_key="sk-wrong-secret-123")

    with pytest.raises(LLMUnavailable) as caught:
        await client.complete(USER, [])

    assert caught.value.code == "llm_auth_failed"
    assert caught.value.retryable is False
    assert "OPENAI_API_KEY" in caught.value.message
    assert "sk-wrong" not in caught.value.message
    assert "sk-wrong" not in str(caught.value)
    assert len(openai_server.requests) == 1


async def test_rejected_request_is_not_retryable(
    openai_server: OpenAIServer, make_client: MakeClient
):
    openai_server.fail(404, times=None, message="The model `nope` does not exist")
    client = make_client(llm_model="nope")

    with pytest.raises(LLMUnavailable) as caught:
        await client.complete(USER, [])

    assert caught.value.retryable is False
    assert "VOICE_MCP_LLM_MODEL" in caught.value.message
    assert len(openai_server.requests) == 1


async def test_unreachable_server_is_retryable_and_named(make_client: MakeClient):
    port = free_port()
    client = make_client(llm_base_url=f"http://127.0.0.1:{port}/v1/secret-path",
                         llm_max_retries=0)

    with pytest.raises(LLMUnavailable) as caught:
        await client.complete(USER, [])

    assert caught.value.retryable is True
    origin = f"http://127.0.0.1:{port}"
    assert caught.value.message == f"The LLM server at {origin} could not be reached."
    assert caught.value.code == "llm_unavailable"


@pytest.mark.parametrize("mid_stream", [False, True], ids=["before-answer", "mid-stream"])
async def test_dropped_connection_is_retryable(
    openai_server: OpenAIServer, make_client: MakeClient, mid_stream: bool
):
    openai_server.drop(times=None, mid_stream=mid_stream)
    client = make_client(llm_max_retries=1)

    with pytest.raises(LLMUnavailable) as caught:
        await client.complete(USER, [])

    assert caught.value.retryable is True
    assert openai_server.chat_count >= 1


@pytest.mark.parametrize("mid_stream", [False, True], ids=["before-answer", "mid-stream"])
async def test_hung_server_times_out(
    openai_server: OpenAIServer, make_client: MakeClient, mid_stream: bool
):
    openai_server.hang(times=None, mid_stream=mid_stream)
    client = make_client(llm_timeout_s=0.2, llm_max_retries=0)

    with pytest.raises(LLMUnavailable) as caught:
        await client.complete(USER, [])

    assert caught.value.retryable is True
    assert "did not answer" in caught.value.message
    async with asyncio.timeout(5):
        await openai_server.disconnected.wait()


@pytest.mark.parametrize("mid_stream", [False, True], ids=["before-answer", "mid-stream"])
async def test_cancelling_the_caller_drops_the_request(
    openai_server: OpenAIServer, make_client: MakeClient, mid_stream: bool
):
    openai_server.hang(mid_stream=mid_stream)
    client = make_client()
    task = asyncio.create_task(client.complete(USER, []))
    async with asyncio.timeout(5):
        await openai_server.wait_for_hanging()

    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(5):
        await openai_server.disconnected.wait()
    assert openai_server.disconnects == ["chat"]


async def test_not_configured_raises_with_what_to_set(openai_server: OpenAIServer):
    client = LLMClient(settings_for(openai_server, openai_api_key=None, llm_base_url=None))

    assert client.configured is False
    with pytest.raises(LLMNotConfigured) as caught:
        await client.complete(USER, [])

    assert "OPENAI_API_KEY" in caught.value.message
    assert "VOICE_MCP_LLM_BASE_URL" in caught.value.message
    assert caught.value.status == 503
    assert openai_server.requests == []
    await client.close()


async def test_self_hosted_server_without_key_gets_a_placeholder(
    openai_server: OpenAIServer, make_client: MakeClient
):
    openai_server.script("Hello.")
    client = make_client(openai_api_key=None)

    turn = await client.complete(USER, [])

    assert turn.content == "Hello."
    assert openai_server.requests[0].api_key == PLACEHOLDER_API_KEY


async def test_listener_gets_text_and_first_token(openai_server: OpenAIServer) -> None:
    from voice_mcp.services.llm import RoundListener

    client = LLMClient(settings_for(openai_server, llm_stream=False))
    openai_server.first_token_delay_s = 0.05
    openai_server.script(Turn(content="It is nine. Good night."))
    said: list[str] = []
    listener = RoundListener(on_text=said.append)
    turn = await client.complete(USER, [], listener)
    assert openai_server.requests[0].stream  # a text listener means a streamed round
    assert "".join(said) == turn.content == "It is nine. Good night." and len(said) > 1
    assert listener.first_token_s is not None
    assert 0.05 <= listener.first_token_s <= listener.total_s
    # A round of tool calls says nothing.
    openai_server.script(tool_turn(call("time__get_current_time", {})))
    said.clear()
    turn = await client.complete(USER, [TIME_TOOL], RoundListener(on_text=said.append))
    assert turn.tool_calls and said == []
    await client.close()
