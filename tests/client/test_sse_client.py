"""The one SSE parser: whole events from bytes cut anywhere, comments, ids, retry."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from voice_mcp.client.sse import SseComment, SseEvent, SseParser, read_events, read_items

BODY = (b"id: 1\r\nevent: progress\r\ndata: {\"type\":\"analyzing\"}\r\n\r\n"
        b": ping\r\n\r\n"
        b"id: 2\nevent: done\ndata: {\"a\":\ndata: 1}\n\n"
        b"retry: 1500\revent: x\rdata: plain\r\r")
EXPECTED = [
    SseEvent("progress", '{"type":"analyzing"}', "1"),
    SseComment("ping"),
    SseEvent("done", '{"a":\n1}', "2"),
    SseEvent("x", "plain", "2", 1500),
]


@pytest.mark.parametrize("size", [1, 2, 3, 7, len(BODY)])
def test_any_chunking_gives_the_same_items(size: int) -> None:
    parser = SseParser()
    items = []
    for start in range(0, len(BODY), size):
        items += parser.feed(BODY[start:start + size])
    items += parser.finish()
    assert items == EXPECTED


def test_an_event_without_data_or_its_blank_line_is_not_sent() -> None:
    parser = SseParser()
    assert parser.feed(b"event: progress\n\ndata: cut off") == []
    assert parser.finish() == []
    assert parser.feed(b"field-only\ndata\n\n") == [SseEvent("message", "", None)]


async def test_read_events_skips_comments_and_decodes_json() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(BODY), 5):
            yield BODY[start:start + 5]

    events = [e async for e in read_events(chunks())]
    assert [e.event for e in events] == ["progress", "done", "x"]
    assert events[1].json() == {"a": 1}
    assert [i async for i in read_items(chunks())] == EXPECTED
