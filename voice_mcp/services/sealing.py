"""A MAC on records that are read back from Redis and decide security (docs/security.md).

A cached tool list's annotations decide a tool's risk; whoever can write Redis must not be
able to lower it. Each record is stored with an HMAC over the Redis key it lives under and
its bytes, made with a key derived from a secret every instance of one deployment shares
(the token key, else the HS256 secret); without one, each process draws its own key and
trusts only what it stored itself. A record that was rewritten, or copied from another key,
fails the check and is fetched again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from voice_mcp.settings import Settings

_PREFIX = b"v1."
_DERIVE = b"voice-mcp record mac v1"


class RecordSigner:
    """Seal and open byte records bound to where they are stored."""

    def __init__(self, key: bytes) -> None:
        self._key = hmac.new(key, _DERIVE, hashlib.sha256).digest()

    @classmethod
    def for_settings(cls, settings: Settings) -> RecordSigner:
        """Keyed by a secret the deployment shares, else by a random key for this process."""
        shared = [*settings.token_keys,
                  settings.jwt_secret.get_secret_value() if settings.jwt_secret else ""]
        chosen = next((s for s in shared if s), None)
        return cls(chosen.encode() if chosen else secrets.token_bytes(32))

    def _tag(self, where: str, payload: bytes) -> bytes:
        message = where.encode("utf-8", "surrogatepass") + b"\0" + payload
        return hmac.new(self._key, message, hashlib.sha256).hexdigest().encode()

    def seal(self, where: str, payload: bytes) -> bytes:
        """`payload` with a tag that binds it to the key `where`."""
        return _PREFIX + self._tag(where, payload) + b"." + payload

    def open(self, where: str, sealed: bytes) -> bytes | None:
        """The payload when the tag holds for `where`; None for anything else."""
        if not sealed.startswith(_PREFIX):
            return None
        tag, dot, payload = sealed[len(_PREFIX):].partition(b".")
        if not dot or not hmac.compare_digest(tag, self._tag(where, payload)):
            return None
        return payload
