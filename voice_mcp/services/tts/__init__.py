"""Speech out for `POST /api/voice/speech`: an OpenAI-compatible server, or local espeak-ng."""

from voice_mcp.services.tts.formats import SpeechFormat
from voice_mcp.services.tts.service import SpeechStream, Synthesizer, tts_mode

__all__ = ["SpeechFormat", "SpeechStream", "Synthesizer", "tts_mode"]
