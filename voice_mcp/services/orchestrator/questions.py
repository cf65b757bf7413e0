"""Whether an answer asks the user something (the done payload's `continueConversation`)."""

from __future__ import annotations

import unicodedata

# What may follow a question mark without hiding it: spaces, emoji and other symbols (with
# their joiners, variation selectors and skin tones), closing quotes and brackets, "!".
_TRAILING_CATEGORIES = ("Z", "S", "Pe", "Pf", "Mn", "Me", "Cf", "Cc")
_TRAILING_MARKS = frozenset("!\"'！")
_QUESTION_MARKS = ("?", "？", "¿", "؟", "\u037e")


def asks_question(text: str) -> bool:
    """True when `text` ends with a question, whatever symbols or spaces trail it."""
    end = len(text)
    while end and (text[end - 1] in _TRAILING_MARKS
                   or unicodedata.category(text[end - 1]).startswith(_TRAILING_CATEGORIES)):
        end -= 1
    return text[:end].endswith(_QUESTION_MARKS)
