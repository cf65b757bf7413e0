"""Clock times: read one from typed or spoken text, and list the spoken forms for the grammar."""

from __future__ import annotations

import re

from voice_mcp.services.intents.numbers import minute_words, number_words

SPOKEN_STEP = 5  # the speech grammar knows times at five-minute steps, as people say them
_WORD_NUMBERS = {number_words(n): n for n in range(60)}
_DIGITS = re.compile(r"^(\d{1,2})(?:[: ](\d{2}))?$")  # "9:30", "9.30" (dots are spaces), "9 30"
_AM = ("am", "a m", "in the morning")
_PM = ("pm", "p m", "in the afternoon", "in the evening", "at night", "tonight")
_NAMED = {"noon": (12, 0), "midday": (12, 0), "twelve noon": (12, 0), "midnight": (0, 0)}


def _clean(text: str) -> str:
    text = text.lower().replace(".", " ").replace("o'clock", "").replace("oclock", "")
    text = re.sub(r"(\d)(am|pm)\b", r"\1 \2", text)
    return " ".join(text.split())


def _split_half(text: str) -> tuple[str, str | None]:
    """Take the am/pm part off the end: ("nine thirty", "pm")."""
    for half, suffixes in (("am", _AM), ("pm", _PM)):
        for suffix in suffixes:
            if text.endswith(" " + suffix) or text == suffix:
                return text[: -len(suffix)].strip(), half
    return text, None


def _words_number(words: list[str]) -> int | None:
    """One to three words that say 0..59 ("oh five", "forty five")."""
    if words[:1] == ["oh"] and len(words) == 2:
        value = _WORD_NUMBERS.get(words[1])
        return value if value is not None and value < 10 else None
    return _WORD_NUMBERS.get(" ".join(words))


def _hour_minute(text: str) -> tuple[int, int] | None:
    if text in _NAMED:
        return _NAMED[text]
    digits = _DIGITS.match(text)
    if digits:
        return int(digits.group(1)), int(digits.group(2) or 0)
    for prefix, offset in (("quarter past ", 15), ("half past ", 30), ("quarter to ", -15)):
        if text.startswith(prefix):
            hour = _WORD_NUMBERS.get(text[len(prefix):])
            if hour is None:
                return None
            return (hour - 1, 45) if offset < 0 else (hour, offset)
    words = text.split()
    if not words or words[0] not in _WORD_NUMBERS:
        return None
    minute = _words_number(words[1:]) if len(words) > 1 else 0
    return None if minute is None else (_WORD_NUMBERS[words[0]], minute)


def parse_clock(text: str) -> str | None:
    """"9:30 pm", "nine thirty p.m.", "quarter to ten", "15:45" -> "HH:MM" (None: not a time)."""
    body, half = _split_half(_clean(text))
    found = _hour_minute(body)
    if found is None:
        return None
    hour, minute = found
    if half is not None:
        if not 1 <= hour <= 12 and not (hour == 0 and half == "am"):
            return None
        hour = hour % 12 + (12 if half == "pm" else 0)
    if not (0 <= hour < 24 and 0 <= minute < 60):
        return None
    return f"{hour:02d}:{minute:02d}"


def spoken_clock_rule() -> str:
    """The JSGF body of a spoken time ("nine thirty p.m.", "quarter to ten", "noon")."""
    hours = " | ".join(number_words(h) for h in range(1, 13))
    minutes = " | ".join(minute_words(m) for m in range(SPOKEN_STEP, 60, SPOKEN_STEP))
    return (f"( ( ( {hours} ) [ o'clock | {minutes} ] ) | ( ( quarter | half ) past ( {hours} ) )"
            f" | ( quarter to ( {hours} ) ) | noon | midnight ) [ a.m. | p.m. ]")


def spoken_clock_phrases() -> list[str]:
    """Every spoken time the grammar accepts, one phrase each (for sampling sentences)."""
    bodies = ["noon", "midnight"]
    for hour in range(1, 13):
        h = number_words(hour)
        bodies += [h, f"{h} o'clock", f"quarter past {h}", f"half past {h}",
                   f"quarter to {number_words(hour % 12 + 1)}"]
        bodies += [f"{h} {minute_words(m)}" for m in range(SPOKEN_STEP, 60, SPOKEN_STEP)]
    return [f"{body}{suffix}" for body in bodies for suffix in ("", " a.m.", " p.m.")]
