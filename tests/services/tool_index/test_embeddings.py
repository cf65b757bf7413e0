"""Embedding ranking through the real openai SDK against the fake server, vectors in real Redis."""

from __future__ import annotations

import openai

from tests.fakes.openai_server import OpenAIServer
from tests.fixtures.openai_server import TEST_API_KEY
from tests.services.tool_index.conftest import tool
from voice_mcp.services.tool_index import ToolIndex, ToolRanker
from voice_mcp.services.tool_index.embeddings import Embedder

TOOLS = [
    tool("weather", "forecast", "Weather forecast for a city.", city="City name"),
    tool("music", "play", "Play a song or playlist.", song="Song title"),
    tool("notes", "write", "Write a note.", text="The note"),
]


def embedder(server: OpenAIServer, redis) -> Embedder:
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key=TEST_API_KEY, max_retries=0)
    return Embedder(client, "test-embedding", redis)


async def test_embeddings_find_a_tool_that_shares_no_word_with_the_query(
        openai_server: OpenAIServer, redis_client) -> None:
    openai_server.embedding_synonyms = {"tiempo": "weather"}  # as a multilingual model would
    index = ToolIndex(TOOLS)
    assert index.rank("tiempo", 3) == []
    ranked = await ToolRanker(embedder(openai_server, redis_client)).rank(index, "tiempo", 2)
    assert index.tools[ranked[0]].qualified_name == "weather.forecast"


async def test_tool_vectors_are_cached_in_redis_per_tool_content(
        openai_server: OpenAIServer, redis_client) -> None:
    index = ToolIndex(TOOLS)
    await embedder(openai_server, redis_client).rank(index, "play a song", 3)
    assert [len(texts) for texts in openai_server.embedding_inputs] == [3, 1]
    # Another replica, and a tool set that adds one tool: only the new tool is embedded.
    grown = ToolIndex([*TOOLS, tool("lights", "on", "Turn the lights on.")])
    ranked = await embedder(openai_server, redis_client).rank(grown, "play a song", 3)
    assert [len(texts) for texts in openai_server.embedding_inputs] == [3, 1, 1, 1]
    assert grown.tools[ranked[0]].qualified_name == "music.play"
    assert await redis_client.keys("vm:tool-emb:*") != []


async def test_a_failing_embeddings_server_leaves_the_lexical_ranking(
        openai_server: OpenAIServer, redis_client) -> None:
    openai_server.embeddings_status = 500
    index = ToolIndex(TOOLS)
    ranked = await ToolRanker(embedder(openai_server, redis_client)).rank(index, "write a note", 2)
    assert [index.tools[i].qualified_name for i in ranked] == ["notes.write"]
    assert openai_server.embedding_inputs  # it was asked
