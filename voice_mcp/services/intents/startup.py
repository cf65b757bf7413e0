"""Start-up: load the templates, check them against the tools, build the speech grammar."""

from __future__ import annotations

import logging

from voice_mcp.services.catalog import Catalog
from voice_mcp.services.intents.checks import check_against_tools
from voice_mcp.services.intents.grammar import Known, build_jsgf
from voice_mcp.services.intents.loader import load_intents
from voice_mcp.services.intents.matcher import LocalIntents
from voice_mcp.services.mcp.manager import McpManager
from voice_mcp.settings import Settings

log = logging.getLogger(__name__)
STARTUP_USER = "voice-mcp-startup"  # shared services list the same tools for every user


def load_local_intents(settings: Settings, catalog: Catalog) -> LocalIntents:
    """The templates of catalog services (none with VOICE_MCP_LOCAL_INTENTS=off)."""
    if settings.local_intents == "off":
        return LocalIntents([])
    return LocalIntents(load_intents(settings.intents_directory, catalog.services))


async def check_templates(intents: LocalIntents, catalog: Catalog, mcp: McpManager) -> None:
    """Check every shared service's templates against its listed tools (ConfigError if wrong).

    A service that cannot be listed now is only logged: its matches are checked per call.
    Per-user (OAuth) services are checked per call too, as their tools are per user.
    """
    for service_id, entry in intents.by_service.items():
        service = catalog.get(service_id)
        if service is None or not service.is_shared:
            continue
        found = await mcp.discover(STARTUP_USER, [service_id])
        if service_id in found.unavailable:
            log.warning("templates of %s not checked: %s", service_id,
                        found.unavailable[service_id])
            continue
        check_against_tools(entry, found.tools)


def speech_grammar(intents: LocalIntents, known: Known) -> str | None:
    """The JSGF grammar of every template, in the words the recogniser `known`s."""
    if not intents.by_service:
        return None
    return build_jsgf(intents.by_service.values(), known)
