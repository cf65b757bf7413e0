"""What a user can do now: services, their tools with risk levels, and example commands."""

from __future__ import annotations

from pydantic import BaseModel

from voice_mcp.services.catalog import Catalog
from voice_mcp.services.intents import LocalIntents
from voice_mcp.services.mcp.manager import McpManager
from voice_mcp.services.orchestrator.deps import ServiceDirectory
from voice_mcp.services.risk import assess

MAX_EXAMPLES = 8


class ToolView(BaseModel):
    name: str
    description: str
    risk: str
    riskReason: str  # noqa: N815 - wire name


class ServiceView(BaseModel):
    id: str
    title: str
    connected: bool
    available: bool
    tools: list[ToolView]


class Capabilities:
    """Describe the catalog as one user sees it, from the warm tool cache."""

    def __init__(self, catalog: Catalog, directory: ServiceDirectory, mcp: McpManager,
                 intents: LocalIntents, *, llm_configured: bool) -> None:
        self._catalog = catalog
        self._directory = directory
        self._mcp = mcp
        self._intents = intents
        self._llm_configured = llm_configured

    async def services(self, user_id: str) -> list[ServiceView]:
        """Each catalog service with `connected` and, when usable, its tools and risks."""
        usable, _unusable = await self._directory.usable(user_id)
        found = await self._mcp.discover(user_id, usable)
        views = []
        for service in self._catalog.services.values():
            tools = [t for t in found.tools if t.service == service.id]
            risks = [(t, assess(t, service.risk)) for t in tools]
            views.append(ServiceView(
                id=service.id, title=service.title, connected=service.id in usable,
                available=service.id in usable and service.id not in found.unavailable,
                tools=[ToolView(name=t.name, description=t.description, risk=r.level,
                                riskReason=r.reason) for t, r in risks]))
        return views

    async def examples(self, user_id: str) -> list[str]:
        """Example commands that work now: templates first, then (with an LLM) the rest."""
        usable, _unusable = await self._directory.usable(user_id)
        examples = self._intents.examples(usable)
        if self._llm_configured:
            for view in await self.services(user_id):
                if view.available:
                    service = self._catalog.services[view.id]
                    examples.extend(service.examples or _from_tools(view))
        return list(dict.fromkeys(examples))[:MAX_EXAMPLES]


def _from_tools(view: ServiceView) -> list[str]:
    """Fallback examples: the first sentence of each read-only tool's description."""
    picks = []
    for tool in view.tools:
        if tool.risk == "low" and tool.description:
            first = tool.description.strip().split(".")[0].strip()
            picks.append(f"{view.title}: {first[0].lower()}{first[1:]}" if first else view.title)
    return picks[:2]
