"""A deterministic hashing embedding for the fake OpenAI server's `/v1/embeddings`.

Each word (a CJK character counts as one) is hashed to a signed bucket, so texts that share
words point the same way. `synonyms` maps a word to another before hashing: a test can make
"tiempo" mean "weather" the way a multilingual model would.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct
from collections.abc import Mapping

DIMENSIONS = 256
_WORD = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]|[^\W_]+")


def embed(text: str, synonyms: Mapping[str, str] | None = None,
          dimensions: int = DIMENSIONS) -> list[float]:
    """A unit vector for a text; the same text always gives the same vector."""
    vector = [0.0] * dimensions
    for word in _WORD.findall(text.lower()):
        word = (synonyms or {}).get(word, word)
        digest = hashlib.sha256(word.encode()).digest()
        bucket = int.from_bytes(digest[:4], "big") % dimensions
        vector[bucket] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def encode(vector: list[float], encoding_format: str) -> list[float] | str:
    """The wire form: a float list, or base64 float32 little-endian (the SDK's default)."""
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector
