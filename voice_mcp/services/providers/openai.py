"""Build the OpenAI-compatible SDK client for each purpose from the settings.

Chat, transcription, speech and embeddings may each have their own server; all share the
key, the transport and the retry policy, so they are built here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from urllib.parse import urlsplit

import openai

from voice_mcp.settings import Settings

OPENAI_BASE_URL: Final = "https://api.openai.com/v1"

# Self-hosted servers (vLLM, Ollama, llama.cpp) ignore the key, but the SDK insists on one.
PLACEHOLDER_API_KEY: Final = "not-needed"

EMBEDDING_TIMEOUT_S: Final = 10.0  # ranking must not eat the command's budget


class Purpose(StrEnum):
    """What a client is for; each may point at its own server."""

    CHAT = "chat"
    TRANSCRIPTION = "transcription"
    SPEECH = "speech"
    EMBEDDINGS = "embeddings"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how one purpose's requests go."""

    purpose: Purpose
    base_url: str
    model: str
    timeout_s: float
    max_retries: int

    @property
    def origin(self) -> str:
        """The server's origin, for messages (never a key or a path)."""
        return origin_of(self.base_url)


def origin_of(url: str) -> str:
    """`scheme://host:port` of a URL: what a message may name (no credentials, no path)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return "the configured URL"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def api_key_for(settings: Settings) -> str:
    """The key to send: the configured one, else a placeholder for keyless self-hosted servers."""
    key = settings.openai_api_key
    return key.get_secret_value() if key is not None else PLACEHOLDER_API_KEY


def base_url_for(settings: Settings, purpose: Purpose) -> str:
    """A purpose's own server setting, else the LLM's server, else OpenAI."""
    own = {Purpose.TRANSCRIPTION: settings.stt_base_url,
           Purpose.SPEECH: settings.tts_base_url}.get(purpose)
    return own or settings.llm_base_url or OPENAI_BASE_URL


def endpoint_for(settings: Settings, purpose: Purpose) -> Endpoint:
    """The server, model, time budget and retries of one purpose."""
    retries = settings.llm_max_retries
    if purpose is Purpose.TRANSCRIPTION:
        model, timeout_s = settings.stt_model, settings.stt_timeout_s
    elif purpose is Purpose.SPEECH:
        model, timeout_s = settings.tts_model, settings.tts_timeout_s
    elif purpose is Purpose.EMBEDDINGS:
        model = settings.embedding_model or ""
        timeout_s = min(settings.llm_timeout_s, EMBEDDING_TIMEOUT_S)
        retries = min(retries, 1)  # a second try at most: ranking falls back to BM25 anyway
    else:
        model, timeout_s = settings.llm_model, settings.llm_timeout_s
    return Endpoint(purpose, base_url_for(settings, purpose), model, timeout_s, retries)


def transport() -> openai.DefaultAioHttpClient:
    """The HTTP client every SDK client uses.

    aiohttp as the transport: measurably less CPU per request than httpx2's own stack, and
    it does not slow down as concurrent requests pile up.
    """
    return openai.DefaultAioHttpClient()


def make_client(settings: Settings, purpose: Purpose) -> openai.AsyncOpenAI:
    """A new SDK client for `purpose`, with its own connection pool (closed by its owner)."""
    endpoint = endpoint_for(settings, purpose)
    return openai.AsyncOpenAI(base_url=endpoint.base_url, api_key=api_key_for(settings),
                              timeout=endpoint.timeout_s, max_retries=endpoint.max_retries,
                              http_client=transport())
