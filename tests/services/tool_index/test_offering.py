"""ToolOffering over real MCP servers: the budget, pinned tools, search, and list changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.fixtures.mcp_servers import REPO_ROOT, make_catalog, notes_stdio
from voice_mcp.services.catalog import ServiceConfig
from voice_mcp.services.mcp.manager import McpManager
from voice_mcp.services.tool_index import ToolOffering

USER = "alice"


def catalog_service(service_id: str, *catalog_ids: str) -> ServiceConfig:
    """Tool definitions of the test catalog (tests/mcp_servers/tool_catalog.py), over stdio."""
    return ServiceConfig(id=service_id, title=service_id.title(), transport="stdio",
                         command=["python", "-m", "tests.mcp_servers.catalog_server",
                                  "--services", ",".join(catalog_ids)], cwd=str(REPO_ROOT))


@pytest.fixture
async def manager(redis_client) -> AsyncIterator[McpManager]:
    changed = asyncio.Event()
    catalog = make_catalog(notes_stdio(), catalog_service("trip", "trains", "weather", "chess"))
    manager = McpManager(catalog, redis_client, call_timeout_s=10, discovery_timeout_s=10,
                         on_tools_changed=lambda *_: changed.set())
    manager.changed = changed  # type: ignore[attr-defined]
    try:
        yield manager
    finally:
        await manager.close()


async def test_within_the_budget_every_tool_is_offered(manager: McpManager) -> None:
    found = await manager.discover(USER, ["notes"])
    offer = await ToolOffering(budget=32).offer(found.tools, "anything")
    assert offer.tools == tuple(found.tools) and not offer.limited


async def test_past_the_budget_the_right_tool_is_offered_in_english_and_chinese(
        manager: McpManager) -> None:
    found = await manager.discover(USER, ["notes", "trip"])
    assert len(found.tools) > 8
    offering = ToolOffering(budget=8)
    english = await offering.offer(found.tools, "what's the weather in Paris")
    assert english.limited and len(english.tools) <= 8
    assert "trip.get_weather_by_city" in [t.qualified_name for t in english.tools]
    chinese = await offering.offer(found.tools, "查询明天北京到上海的火车票")
    assert "trip.get-tickets" in [t.qualified_name for t in chinese.tools]
    assert offering.indexes.builds == 1


async def test_tools_used_earlier_stay_offered(manager: McpManager) -> None:
    found = await manager.discover(USER, ["notes", "trip"])
    offer = await ToolOffering(budget=8).offer(found.tools, "and in Berlin?",
                                               pinned={"notes.add_note"})
    assert offer.tools[0].qualified_name == "notes.add_note"


async def test_search_finds_tools_not_yet_offered(manager: McpManager) -> None:
    found = await manager.discover(USER, ["notes", "trip"])
    offering = ToolOffering(budget=8)
    found_tools = await offering.search(found.tools, "chess game", exclude={("trip", "new_game")})
    names = [t.qualified_name for t in found_tools]
    assert "trip.make_move" in names and "trip.new_game" not in names


async def test_a_large_tool_set_is_indexed_once_however_many_commands_wait(
        manager: McpManager) -> None:
    found = await manager.discover(USER, ["notes", "trip"])
    many = found.tools * 10  # past the size that is indexed off the event loop
    offering = ToolOffering(budget=8)
    offers = await asyncio.gather(*(offering.offer(many, "chess move") for _ in range(5)))
    assert offering.indexes.builds == 1
    assert all("trip.make_move" in [t.qualified_name for t in o.tools] for o in offers)


async def test_a_changed_tool_list_rebuilds_the_index(manager: McpManager) -> None:
    offering = ToolOffering(budget=4)
    found = await manager.discover(USER, ["notes"])
    await offering.offer(found.tools, "list my notes")
    again = await manager.discover(USER, ["notes"])
    await offering.offer(again.tools, "delete a note")
    assert offering.indexes.builds == 1  # the same list: no rebuild
    result = await manager.call_tool(USER, "notes", "add_tool", {"name": "water_plants"})
    assert result.success
    async with asyncio.timeout(10):
        await manager.changed.wait()  # type: ignore[attr-defined]
    changed = await manager.discover(USER, ["notes"])
    offer = await offering.offer(changed.tools, "water the plants")
    assert offering.indexes.builds == 2
    assert offer.tools[0].qualified_name == "notes.water_plants"
