"""A 5-second spoken clip for the upload benchmark: espeak-ng speech, padded or cut by sox."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SENTENCE = "list my notes please, and read them to me slowly, one after the other"
SECONDS = 5
BOUNDARY = "voice-mcp-bench-boundary"


def missing_tools() -> list[str]:
    """The programs the clip needs that are not installed."""
    return [p for p in ("espeak-ng", "sox", "soxi") if shutil.which(p) is None]


def make_clip(directory: Path) -> bytes:
    """The WAV bytes of SENTENCE, exactly SECONDS long (silence added or speech cut)."""
    speech, clip = directory / "speech.wav", directory / "clip.wav"
    subprocess.run(["espeak-ng", "-w", str(speech), SENTENCE], check=True, capture_output=True)
    subprocess.run(["sox", str(speech), str(clip), "pad", "0", str(SECONDS), "trim", "0",
                    str(SECONDS)], check=True, capture_output=True)
    return clip.read_bytes()


def duration_s(directory: Path) -> float:
    """The clip's length as sox reads it."""
    done = subprocess.run(["soxi", "-D", str(directory / "clip.wav")], check=True,
                          capture_output=True, text=True)
    return float(done.stdout.strip())


def multipart(audio: bytes) -> tuple[bytes, str]:
    """The form body (file field `audio`) and its Content-Type, encoded once up front."""
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"audio\"; "
            f"filename=\"clip.wav\"\r\nContent-Type: audio/wav\r\n\r\n").encode()
    body = head + audio + f"\r\n--{BOUNDARY}--\r\n".encode()
    return body, f"multipart/form-data; boundary={BOUNDARY}"
