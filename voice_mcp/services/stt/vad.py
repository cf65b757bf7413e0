"""Where speech starts and ends in a stream of 16 kHz PCM: webrtcvad on 20 ms frames.

webrtcvad (the maintained `webrtcvad-wheels` build) needs no model file and takes microseconds
per frame, so it runs inline as frames arrive. It hears the PCM as sent, before the dither the
recogniser adds: at its most aggressive setting a noise floor like that dither (about -50 dBFS)
is not speech, at the default setting it is (measured on white noise).
"""

from __future__ import annotations

import webrtcvad

from voice_mcp.services.stt.pcm import RATE

FRAME_MS = 20
FRAME_BYTES = RATE * 2 * FRAME_MS // 1000
AGGRESSIVENESS = 3
# Speech starts at the first of this many voiced frames in a row: one voiced frame of a click
# or a breath is not a command starting.
ONSET_FRAMES = 3


class VoiceActivity:
    """Track one utterance: where speech began, where it was last heard, whether it ended."""

    def __init__(self, silence_ms: int) -> None:
        self._vad = webrtcvad.Vad(AGGRESSIVENESS)
        self._silence_bytes = silence_ms * RATE * 2 // 1000
        self._pending = b""
        self._seen = 0  # bytes judged so far (whole frames)
        self._run = 0  # voiced frames in a row
        self.onset: int | None = None  # byte offset of the first frame of speech
        self.last_voiced: int | None = None  # byte offset just past the last voiced frame

    def feed(self, pcm: bytes) -> None:
        """Judge every whole 20 ms frame of `pcm` (a remainder waits for the next call)."""
        data = self._pending + pcm
        whole = len(data) - len(data) % FRAME_BYTES
        for start in range(0, whole, FRAME_BYTES):
            self._judge(self._vad.is_speech(data[start:start + FRAME_BYTES], RATE))
        self._pending = data[whole:]

    def _judge(self, voiced: bool) -> None:
        self._seen += FRAME_BYTES
        self._run = self._run + 1 if voiced else 0
        if self._run >= ONSET_FRAMES and self.onset is None:
            self.onset = self._seen - ONSET_FRAMES * FRAME_BYTES
        if voiced and self.onset is not None:
            self.last_voiced = self._seen

    @property
    def ended(self) -> bool:
        """Speech began and has been followed by the silence window."""
        return self.last_voiced is not None and \
            self._seen - self.last_voiced >= self._silence_bytes
