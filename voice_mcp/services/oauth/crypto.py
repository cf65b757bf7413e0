"""Encryption at rest for OAuth secrets: MultiFernet so the key can be rotated."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from voice_mcp.settings import ConfigError

MAKE_KEY_HINT = (
    "make one with: python -c \"from cryptography.fernet import Fernet;"
    " print(Fernet.generate_key().decode())\""
)


class UndecryptableError(Exception):
    """A stored value was encrypted with a key that is no longer configured (or was altered)."""


class TokenCipher:
    """Encrypt with the first key, decrypt with any of them (newest first)."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ConfigError(f"VOICE_MCP_TOKEN_KEY: required for OAuth services; {MAKE_KEY_HINT}")
        fernets: list[Fernet] = []
        for index, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                # Never echo the key itself: say which one of the list is wrong.
                raise ConfigError(
                    f"VOICE_MCP_TOKEN_KEY: key #{index} is not a Fernet key"
                    f" (32 url-safe base64-encoded bytes); {MAKE_KEY_HINT}"
                ) from None
        self._fernet = MultiFernet(fernets)

    def encrypt(self, plaintext: bytes) -> bytes:
        """Encrypt with the newest key."""
        return self._fernet.encrypt(plaintext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        """Decrypt with whichever configured key made the value."""
        try:
            return self._fernet.decrypt(ciphertext)
        except InvalidToken:
            raise UndecryptableError("not decryptable with the configured keys") from None
