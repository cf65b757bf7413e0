"""English number words for spoken clock times (templates and the speech grammar need words)."""

from __future__ import annotations

_ONES = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
]
_TENS = ("", "", "twenty", "thirty", "forty", "fifty")


def number_words(n: int) -> str:
    """0..59 as English words ("forty five")."""
    if not 0 <= n < 60:
        raise ValueError(f"{n} is outside 0..59")
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] if ones == 0 else f"{_TENS[tens]} {_ONES[ones]}"


def minute_words(minute: int) -> str:
    """How a minute is said after the hour: 5 -> "oh five", 30 -> "thirty"."""
    return f"oh {_ONES[minute]}" if 0 < minute < 10 else number_words(minute)
