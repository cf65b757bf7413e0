"""Spoken answers mapped onto a form question's fields, without an LLM.

The common shapes: a boolean from yes/no words, an enum from an option's value or title
("the work one"), a number from digits or number words, a lone string field from the words.
What cannot be mapped stays out of the content, so the check names it as missing.
"""

from __future__ import annotations

import re
from typing import Any

from voice_mcp.services.intents.numbers import number_words

CANCEL = {"cancel", "never mind", "nevermind", "forget it", "stop", "abort"}
YES = {"yes", "yeah", "yep", "yup", "sure", "ok", "okay", "correct", "right", "confirm",
       "affirmative", "go ahead", "do it", "please do", "true", "of course", "absolutely"}
NO = {"no", "nope", "nah", "negative", "false", "don't", "do not", "not", "no thanks"}
FILLER = {"the", "a", "an", "one", "please", "it", "is", "i", "want", "like", "would", "take",
          "use", "choose", "pick", "my", "that", "option", "its", "to", "be"}
_NUMBERS = {number_words(n): n for n in range(60)}
_NUMBERS.update({"sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
                 "a hundred": 100, "one hundred": 100})
_DIGITS = re.compile(r"-?\d+(?:\.\d+)?")
_PRONOUN_ONE = re.compile(r"\b(?:the|that|this)\s+(?:\w+\s+)?one\b")  # "the work one"


def normalize(text: str) -> str:
    """Lower case, punctuation gone (apostrophes kept), single spaces."""
    return " ".join(re.sub(r"[^\w\s'.-]|(?<!\d)\.|\.(?!\d)", " ", text.lower()).split())


def _has(text: str, phrases: set[str]) -> bool:
    padded = f" {text} "
    return any(f" {p} " in padded for p in phrases)


def action_of(words: str, fields: list[dict[str, Any]]) -> str | None:
    """`cancel` or `decline` when the words say so; a plain "no" is a boolean's answer."""
    text = normalize(words)
    if _has(text, CANCEL):
        return "cancel"
    booleans = any(f.get("type") == "boolean" for f in fields)
    if not booleans and text in NO | {"decline", "no way", "i decline"}:
        return "decline"
    return None


def yes_no(text: str) -> bool | None:
    """True for yes words, False for no words, None when neither or both."""
    yes, no = _has(text, YES), _has(text, NO)
    return yes if yes != no else None


def number(text: str, integer: bool) -> float | int | None:
    """The first number in the words: digits, else number words ("twenty five")."""
    match = _DIGITS.search(text)
    if match:
        value = float(match.group())
        return int(value) if integer or value.is_integer() else value
    tokens = _PRONOUN_ONE.sub(" ", text).split()
    for size in (2, 1):
        for i in range(len(tokens) - size + 1):
            phrase = " ".join(tokens[i:i + size])
            if phrase in _NUMBERS:
                return _NUMBERS[phrase]
    return None


def _words_of(value: str) -> set[str]:
    return set(normalize(value).replace("_", " ").replace("-", " ").split()) - FILLER


def choices(text: str, field: dict[str, Any]) -> list[Any]:
    """The enum options the words name, by value or title, best first."""
    said = _words_of(text)
    titles = field.get("enumTitles") or [str(v) for v in field["enum"]]
    scored = []
    for value, title in zip(field["enum"], titles, strict=False):
        names = {normalize(str(value)), normalize(str(title))}
        if normalize(text) in names:
            return [value]
        overlap = max(len(said & _words_of(n)) for n in names)
        if overlap:
            scored.append((overlap, value))
    return [value for _, value in sorted(scored, key=lambda s: -s[0])]


def _value(text: str, raw: str, field: dict[str, Any], alone: bool) -> Any:
    kind = field.get("type")
    if "enum" in field:
        found = choices(text, field)
        if kind == "array":
            return found or None
        return found[0] if found and (len(found) == 1 or alone) else None
    if kind == "boolean":
        return yes_no(text)
    if kind in ("number", "integer"):
        return number(text, kind == "integer")
    return raw.strip() if alone and kind == "string" and raw.strip() else None


def map_words(words: str, fields: list[dict[str, Any]]) -> dict[str, Any]:
    """The content the words give: every field whose value they name unambiguously."""
    text = normalize(words)
    alone = len(fields) == 1 or len([f for f in fields if f.get("required")]) == 1
    content: dict[str, Any] = {}
    for field in fields:
        target = alone and (len(fields) == 1 or field.get("required"))
        value = _value(text, words, field, bool(target))
        if value is not None:
            content[str(field["name"])] = value
    return content


def vocabulary(fields: list[dict[str, Any]]) -> list[str] | None:
    """The phrases an answer to these fields is made of, for a recogniser that listens for
    them only (the listen socket, offline); None when a field takes free text. Filler words
    stand only inside a phrase ("the large one"): alone, a recogniser inserts them into
    silence ("be yes")."""
    if any("enum" not in f and f.get("type") not in ("boolean", "number", "integer")
           for f in fields):
        return None
    phrases = CANCEL | NO | {"decline"}
    for field in fields:
        phrases |= {normalize(str(field.get(k, ""))) for k in ("name", "title")}
        if field.get("type") == "boolean":
            phrases |= YES
        if field.get("type") in ("number", "integer"):
            phrases |= set(_NUMBERS)
        for option in [*field.get("enum", []), *(field.get("enumTitles") or [])]:
            name = normalize(str(option).replace("_", " ").replace("-", " "))
            phrases |= {name, f"the {name}", f"the {name} one", f"{name} one"}
    return sorted(p for p in phrases if p)
