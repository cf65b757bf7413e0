"""Speech out for `POST /api/voice/speech`: an OpenAI-compatible server, or local espeak-ng."""

from voice_mcp.services.tts.choose import TextToSpeech, make_text_to_speech, tts_mode
from voice_mcp.services.tts.formats import SpeechFormat
from voice_mcp.services.tts.service import SpeechStream, Synthesizer

__all__ = ["SpeechFormat", "SpeechStream", "Synthesizer", "TextToSpeech", "make_text_to_speech",
           "tts_mode"]
