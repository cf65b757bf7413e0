"""The work of voice-mcp; nothing here imports aiohttp's web layer."""
