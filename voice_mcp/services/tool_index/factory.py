"""Build the app's ToolOffering from the settings and the catalog."""

from __future__ import annotations

import openai

from voice_mcp.services.catalog import Catalog
from voice_mcp.services.llm.client import OPENAI_BASE_URL, api_key_for
from voice_mcp.services.store import Redis
from voice_mcp.services.tool_index.service import ToolOffering
from voice_mcp.settings import Settings

EMBEDDING_TIMEOUT_S = 10.0  # ranking must not eat the command's budget


def offering_for(settings: Settings, catalog: Catalog, redis: Redis) -> ToolOffering:
    """Lexical ranking; fused with embeddings from the LLM's server when a model is set."""
    titles = {service.id: service.title for service in catalog.services.values()}
    if settings.embedding_model is None or not settings.llm_configured:
        return ToolOffering(settings.tool_budget, titles=titles)
    client = openai.AsyncOpenAI(base_url=settings.llm_base_url or OPENAI_BASE_URL,
                                api_key=api_key_for(settings),
                                timeout=min(settings.llm_timeout_s, EMBEDDING_TIMEOUT_S),
                                max_retries=1)
    return ToolOffering.with_embeddings(settings.tool_budget, titles, client,
                                        settings.embedding_model, redis)
