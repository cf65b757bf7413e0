"""Quirks of streamed answers from servers that are not quite OpenAI."""

from __future__ import annotations

from typing import Any

from openai.types.chat import ChatCompletion, ChatCompletionChunk

from voice_mcp.services.llm.models import AssistantTurn, ToolCallRequest, tool_result_message
from voice_mcp.services.llm.parse import StreamAccumulator, from_completion


def chunk(*deltas: dict[str, Any], index: int = 0, finish: str | None = None, usage=None):
    choices = [{"index": index, "delta": d, "finish_reason": finish} for d in deltas]
    return ChatCompletionChunk.model_validate(
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "m",
            "choices": choices,
            "usage": usage,
        }
    )


def call_delta(index: int, *, id=None, name=None, arguments=None) -> dict[str, Any]:
    function = {k: v for k, v in {"name": name, "arguments": arguments}.items() if v is not None}
    return {"tool_calls": [{"index": index, "id": id, "function": function}]}


def test_missing_ids_are_made_up_and_unique():
    acc = StreamAccumulator()
    acc.feed(chunk(call_delta(0, name="a__b", arguments="{}")))
    acc.feed(chunk(call_delta(1, name="a__c", arguments="{}")))

    calls = acc.result().tool_calls

    assert all(c.id.startswith("call_") for c in calls)
    assert calls[0].id != calls[1].id


def test_a_name_repeated_in_every_chunk_is_not_doubled():
    acc = StreamAccumulator()
    acc.feed(chunk(call_delta(0, id="1", name="time__now", arguments='{"a"')))
    acc.feed(chunk(call_delta(0, name="time__now", arguments=": 1}")))

    [tool_call] = acc.result().tool_calls

    assert (tool_call.name, tool_call.arguments) == ("time__now", {"a": 1})


def test_a_name_sent_in_pieces_is_joined():
    acc = StreamAccumulator()
    acc.feed(chunk(call_delta(0, id="1", name="time__")))
    acc.feed(chunk(call_delta(0, name="now")))

    assert acc.result().tool_calls[0].name == "time__now"


def test_calls_come_out_in_index_order_and_other_choices_are_ignored():
    acc = StreamAccumulator()
    acc.feed(chunk(call_delta(1, id="b", name="s__two")))
    acc.feed(chunk(call_delta(0, id="a", name="s__one")))
    acc.feed(chunk({"content": "ignored"}, index=1))
    acc.feed(chunk({}, finish="tool_calls"))
    acc.feed(
        ChatCompletionChunk.model_validate(
            {
                "id": "c",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "m",
                "choices": [],
                "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
            }
        )
    )

    turn = acc.result()

    assert [c.name for c in turn.tool_calls] == ["s__one", "s__two"]
    assert turn.content is None
    assert turn.finish_reason == "tool_calls"
    assert turn.usage is not None and turn.usage.total_tokens == 5


def test_completion_without_choices_is_an_empty_turn():
    completion = ChatCompletion.model_validate(
        {"id": "c", "object": "chat.completion", "created": 0, "model": "m", "choices": []}
    )

    assert from_completion(completion) == AssistantTurn()


def test_history_messages():
    turn = AssistantTurn(
        content=None,
        tool_calls=[
            ToolCallRequest(id="1", name="a__b", arguments={"x": 1}, raw_arguments='{"x": 1}'),
            ToolCallRequest(id="2", name="a__c", raw_arguments="{oops", parse_error="bad"),
        ],
    )

    arguments = [c["function"]["arguments"] for c in turn.to_message()["tool_calls"]]

    assert arguments == ['{"x": 1}', "{}"]
    assert AssistantTurn(content="hi").to_message() == {"role": "assistant", "content": "hi"}
    assert tool_result_message("1", {"ok": True}) == {
        "role": "tool",
        "tool_call_id": "1",
        "content": '{"ok": true}',
    }
    assert tool_result_message("1", "plain")["content"] == "plain"
