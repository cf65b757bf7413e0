"""The services a command run needs, handed to the orchestrator as one bundle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from voice_mcp.services.catalog import Catalog
from voice_mcp.services.confirmations import ConfirmationStore
from voice_mcp.services.history import HistoryStore
from voice_mcp.services.intents import LocalIntents
from voice_mcp.services.lifecycle import Lifecycle
from voice_mcp.services.llm.client import LLMClient
from voice_mcp.services.mcp.manager import McpManager
from voice_mcp.services.metrics import Metrics
from voice_mcp.services.stt.choose import SpeechToText
from voice_mcp.services.tool_index import ToolOffering
from voice_mcp.settings import Settings

if TYPE_CHECKING:  # the broker's module imports the command registry, which imports us
    from voice_mcp.services.asking.broker import InputBroker


class ServiceDirectory(Protocol):
    """Which services a user can use now, and why the others cannot be used."""

    async def usable(self, user_id: str) -> tuple[list[str], dict[str, str]]: ...


@dataclass(frozen=True)
class Deps:
    settings: Settings
    catalog: Catalog
    mcp: McpManager
    llm: LLMClient
    history: HistoryStore
    confirmations: ConfirmationStore
    directory: ServiceDirectory
    transcriber: SpeechToText
    metrics: Metrics
    offering: ToolOffering
    intents: LocalIntents
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    asking: InputBroker | None = None  # None: a service's questions are declined
