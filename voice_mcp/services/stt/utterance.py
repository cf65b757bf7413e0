"""One utterance on the listen socket: its voice activity, its recogniser, its length limit."""

from __future__ import annotations

import time

from voice_mcp.services.stt.pcm import MAX_SECONDS, RATE, too_long
from voice_mcp.services.stt.streaming import StreamingRecognizer
from voice_mcp.services.stt.vad import VoiceActivity


class Utterance:
    """Feed PCM as it arrives (any frame size, even an odd byte count); `ended` in `vad` mode
    once the silence window followed speech; `finish` for the transcript."""

    def __init__(self, recognizer: StreamingRecognizer, silence_ms: int) -> None:
        self.recognizer = recognizer
        self.activity = VoiceActivity(silence_ms)
        self.received = 0
        self.last_voiced_at: float | None = None  # monotonic time the last voiced frame came
        self._odd = b""

    async def feed(self, data: bytes) -> str | None:
        """Take a frame; new partial text or None. `audio_too_long` past MAX_SECONDS."""
        self.received += len(data)
        if self.received > MAX_SECONDS * RATE * 2:
            raise too_long()
        data = self._odd + data
        self._odd = data[len(data) // 2 * 2:]
        pcm = data[:len(data) // 2 * 2]
        before = self.activity.last_voiced
        self.activity.feed(pcm)
        if self.activity.last_voiced != before:
            self.last_voiced_at = time.monotonic()
        return await self.recognizer.feed(pcm, self.activity.onset)

    @property
    def ended(self) -> bool:
        return self.activity.ended

    async def finish(self) -> str:
        """The transcript (the recogniser stays open: `close` it)."""
        return await self.recognizer.finish(self.activity.onset)

    async def close(self) -> None:
        await self.recognizer.close()
