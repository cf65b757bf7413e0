"""Show text from servers, tools and the LLM exactly as it is: never markup, never a command
to the terminal (an escape sequence, a bidi override) that would change what the user sees."""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

# Control characters, format characters (bidi overrides, zero-width) and line separators.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: object, *, keep_newlines: bool = False) -> str:
    """The text with every invisible or terminal-controlling character spelled out (`\\x1b`)."""
    text = value if isinstance(value, str) else str(value)
    return "".join(
        char if (keep_newlines and char == "\n")
        or unicodedata.category(char) not in _HIDDEN_CATEGORIES else _escape(char)
        for char in text)


def literal(value: object, style: str = "", *, keep_newlines: bool = False) -> Text:
    """A Rich Text that prints `value` literally: brackets stay brackets, controls are shown."""
    from rich.text import Text  # not at import: `ask` sends its command before loading Rich

    return Text(visible(value, keep_newlines=keep_newlines), style=style)
