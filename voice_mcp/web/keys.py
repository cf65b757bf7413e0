"""Every typed application key in one place."""

from __future__ import annotations

from aiohttp import web

from voice_mcp.services.asking.broker import InputBroker
from voice_mcp.services.auth import TokenVerifier
from voice_mcp.services.capabilities import Capabilities
from voice_mcp.services.catalog import Catalog
from voice_mcp.services.commands import CommandRegistry
from voice_mcp.services.history import HistoryStore
from voice_mcp.services.intents import LocalIntents
from voice_mcp.services.lifecycle import Lifecycle
from voice_mcp.services.mcp.manager import McpManager
from voice_mcp.services.metrics import Metrics
from voice_mcp.services.oauth.service import OAuthService
from voice_mcp.services.orchestrator import Orchestrator
from voice_mcp.services.ratelimit import CommandRateLimiter
from voice_mcp.services.store import Redis
from voice_mcp.services.stt.choose import SpeechToText
from voice_mcp.services.stt.streaming import StreamingSpeech
from voice_mcp.services.stt.warmup import WarmUp
from voice_mcp.services.tts import Synthesizer
from voice_mcp.settings import Settings
from voice_mcp.web.listen_limits import SocketCount

SETTINGS = web.AppKey("settings", Settings)
CATALOG = web.AppKey("catalog", Catalog)
METRICS = web.AppKey("metrics", Metrics)
REDIS: web.AppKey[Redis] = web.AppKey("redis")
TOKEN_VERIFIER = web.AppKey("token_verifier", TokenVerifier)
MCP = web.AppKey("mcp", McpManager)
OAUTH = web.AppKey("oauth", OAuthService)
HISTORY = web.AppKey("history", HistoryStore)
ORCHESTRATOR = web.AppKey("orchestrator", Orchestrator)
CAPABILITIES = web.AppKey("capabilities", Capabilities)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
RATE_LIMITER = web.AppKey("rate_limiter", CommandRateLimiter)
INTENTS = web.AppKey("intents", LocalIntents)
COMMANDS = web.AppKey("commands", CommandRegistry)
SPEECH = web.AppKey("speech", Synthesizer)
LISTENING = web.AppKey("listening", StreamingSpeech)
LISTEN_SOCKETS = web.AppKey("listen_sockets", SocketCount)
ASKING = web.AppKey("asking", InputBroker)
TRANSCRIBER = web.AppKey("transcriber", SpeechToText)
SPEECH_WARMUP = web.AppKey("speech_warmup", WarmUp)
