"""The one way a user id goes into a Redis key.

A `sub` is whatever the identity provider says, colons included: put raw into
`hist:{user}:{conversation}`, the user `alice:x` would share keys with alice. The user part
of every key is instead a fixed-length digest, so no two ids can ever meet in one key.
"""

from __future__ import annotations

import hashlib

USER_DIGEST_CHARS = 32  # 128 bits of SHA-256: collisions are out of reach


def user_part(user_id: str) -> str:
    """The fixed-length, colon-free stand-in for a user id inside Redis keys."""
    digest = hashlib.sha256(user_id.encode("utf-8", "surrogatepass")).hexdigest()
    return digest[:USER_DIGEST_CHARS]


def user_key(prefix: str, user_id: str, *rest: str) -> str:
    """`prefix:<user digest>[:rest...]`; the digest never holds a colon, so parts stay apart."""
    return ":".join((prefix, user_part(user_id), *rest))


def user_tagged_key(prefix: str, user_id: str, *rest: str) -> str:
    """`prefix:{<user digest>}[:rest...]`: every key of one user in one Redis Cluster slot, so a
    script may touch several of them (the braces are the key's hash tag)."""
    return ":".join((prefix, "{" + user_part(user_id) + "}", *rest))
