"""Command ids: unguessable, URL-safe, and checked strictly before they reach Redis."""

from __future__ import annotations

import re
import secrets

ID_BYTES = 16  # 128 random bits
COMMAND_ID = re.compile(r"[A-Za-z0-9_-]{22}")  # token_urlsafe(16) is 22 characters


def new_command_id() -> str:
    """A fresh command id."""
    return secrets.token_urlsafe(ID_BYTES)


def is_command_id(value: str) -> bool:
    """True when `value` has the exact shape of an id this server makes."""
    return COMMAND_ID.fullmatch(value) is not None


def new_instance_id() -> str:
    """The id of this server process, the owner named in each command it runs."""
    return secrets.token_hex(8)
