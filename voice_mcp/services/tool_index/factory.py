"""Build the app's ToolOffering from the settings and the catalog."""

from __future__ import annotations

from voice_mcp.services.catalog import Catalog
from voice_mcp.services.providers.openai import Purpose, make_client
from voice_mcp.services.store import Redis
from voice_mcp.services.tool_index.service import ToolOffering
from voice_mcp.settings import Settings


def offering_for(settings: Settings, catalog: Catalog, redis: Redis) -> ToolOffering:
    """Lexical ranking; fused with embeddings from the LLM's server when a model is set."""
    titles = {service.id: service.title for service in catalog.services.values()}
    if settings.embedding_model is None or not settings.llm_configured:
        return ToolOffering(settings.tool_budget, titles=titles)
    client = make_client(settings, Purpose.EMBEDDINGS)
    return ToolOffering.with_embeddings(settings.tool_budget, titles, client,
                                        settings.embedding_model, redis)
