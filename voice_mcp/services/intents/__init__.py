"""Sentence templates that answer common commands without the LLM (docs/local-intents.md)."""

from voice_mcp.services.intents.loader import ServiceIntents, load_intents
from voice_mcp.services.intents.matcher import LocalIntents
from voice_mcp.services.intents.models import LocalMatch

__all__ = ["LocalIntents", "LocalMatch", "ServiceIntents", "load_intents"]
