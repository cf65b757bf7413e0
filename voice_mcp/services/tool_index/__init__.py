"""Rank a user's tools for a query, so that only the relevant ones are offered.

See docs/discovery.md."""

from voice_mcp.services.tool_index.cache import ToolIndexCache
from voice_mcp.services.tool_index.index import ToolIndex
from voice_mcp.services.tool_index.offer import SEARCH_TOOLS, SEARCH_TOOLS_TOOL, Offer, choose_offer
from voice_mcp.services.tool_index.ranker import ToolRanker
from voice_mcp.services.tool_index.service import ToolOffering
from voice_mcp.services.tool_index.tokens import tokenize

__all__ = [
    "SEARCH_TOOLS",
    "SEARCH_TOOLS_TOOL",
    "Offer",
    "ToolIndex",
    "ToolIndexCache",
    "ToolOffering",
    "ToolRanker",
    "choose_offer",
    "tokenize",
]
