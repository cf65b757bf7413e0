"""Real recorded speech for tests: espeak-ng says a sentence, sox or ffmpeg re-encodes it."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

DEFAULT_TEXT = "what time is it in Tokyo"

# For each container, the commands that can make it from a wav, in order of preference.
_CONVERTERS: dict[str, list[list[str]]] = {
    "flac": [
        ["sox", "{src}", "{dst}"],
        ["ffmpeg", "-y", "-loglevel", "error", "-i", "{src}", "{dst}"],
    ],
    "ogg": [
        ["sox", "{src}", "{dst}"],
        ["ffmpeg", "-y", "-loglevel", "error", "-i", "{src}", "{dst}"],
    ],
    "mp3": [
        ["sox", "{src}", "{dst}"],
        ["ffmpeg", "-y", "-loglevel", "error", "-i", "{src}", "{dst}"],
    ],
    "opus": [["ffmpeg", "-y", "-loglevel", "error", "-i", "{src}", "-c:a", "libopus", "{dst}"]],
    "webm": [["ffmpeg", "-y", "-loglevel", "error", "-i", "{src}", "-c:a", "libopus", "{dst}"]],
    "m4a": [["ffmpeg", "-y", "-loglevel", "error", "-i", "{src}", "-c:a", "aac", "{dst}"]],
}
FORMATS = ("wav", *_CONVERTERS)


def have(program: str) -> bool:
    return shutil.which(program) is not None


class SpeechSamples:
    """Make and cache spoken samples in one directory; skip a format no local tool can make."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._failed: set[tuple[str, str]] = set()

    def path(self, fmt: str = "wav", text: str = DEFAULT_TEXT) -> Path:
        """The file of `text` spoken in container `fmt` (wav, flac, ogg, mp3, opus, webm, m4a)."""
        if fmt not in FORMATS:
            raise ValueError(f"unknown sample format {fmt!r}")
        stem = hashlib.sha1(text.encode()).hexdigest()[:12]
        target = self.directory / f"{stem}.{fmt}"
        if target.exists():
            return target
        wav = self.directory / f"{stem}.wav"
        if not wav.exists():
            if not have("espeak-ng"):
                pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
            subprocess.run(["espeak-ng", "-w", str(wav), text], check=True, capture_output=True)
        if fmt == "wav":
            return wav
        self._convert(wav, target, fmt)
        return target

    def read(self, fmt: str = "wav", text: str = DEFAULT_TEXT) -> bytes:
        """The bytes of `path(fmt, text)`."""
        return self.path(fmt, text).read_bytes()

    def _convert(self, wav: Path, target: Path, fmt: str) -> None:
        for command in _CONVERTERS[fmt]:
            if (fmt, command[0]) in self._failed or not have(command[0]):
                continue
            args = [a.format(src=wav, dst=target) for a in command]
            done = subprocess.run(args, capture_output=True)
            if done.returncode == 0 and target.exists() and target.stat().st_size > 0:
                return
            # This build cannot write the format (e.g. sox without libsox-fmt-mp3): try the next.
            self._failed.add((fmt, command[0]))
            target.unlink(missing_ok=True)
        tools = " or ".join(sorted({c[0] for c in _CONVERTERS[fmt]}))
        pytest.skip(f"no tool here can write {fmt} (install {tools})")
