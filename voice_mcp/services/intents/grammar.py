"""A JSGF grammar of every template sentence, so the offline recogniser hears in-domain words.

Lists become rules (`<place> = tokyo | new york | ...;`), so the grammar stays small however
many values a list has. Words the recogniser's dictionary lacks drop their alternative out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from hassil import Alternative, ListReference, RuleReference, TextChunk, parse_sentence
from hassil.expression import Expression, Group, Permutation
from hassil.intents import RangeSlotList, TextSlotList

from voice_mcp.services.intents.loader import ServiceIntents
from voice_mcp.services.intents.numbers import number_words

Known = Callable[[str], bool]
_WORD = re.compile(r"[a-z][a-z'.]*|\d+")


class _Builder:
    def __init__(self, entry: ServiceIntents, known: Known) -> None:
        self.entry = entry
        self.known = known
        self.rules: dict[str, str | None] = {}

    def words(self, text: str) -> str | None:
        """A text chunk as dictionary words; None when one is unknown."""
        out: list[str] = []
        for token in _WORD.findall(text.lower()):
            if token.isdigit():
                if int(token) >= 60:
                    return None
                out.extend(number_words(int(token)).split())
                continue
            token = token.rstrip(".") if not self.known(token) else token
            if not self.known(token):
                return None
            out.append(token)
        return " ".join(out)

    def expression(self, exp: Expression) -> str | None:
        if isinstance(exp, TextChunk):
            return self.words(exp.original_text or exp.text)
        if isinstance(exp, ListReference):
            return self.rule(f"list_{exp.list_name}", lambda: self.list_body(exp.list_name))
        if isinstance(exp, RuleReference):
            source = self.entry.spec.expansion_rules.get(exp.rule_name, "")
            return self.rule(f"rule_{exp.rule_name}",
                             lambda: self.expression(parse_sentence(source).expression))
        if isinstance(exp, Alternative):
            return self.alternative(exp)
        if isinstance(exp, Permutation | Group):
            parts = [self.expression(item) for item in exp.items]
            if any(part is None for part in parts):
                return None
            return " ".join(f"( {p} )" for p in parts if p and p.strip())
        return None

    def alternative(self, exp: Alternative) -> str | None:
        options = [self.expression(item) for item in exp.items]
        kept = [o for o in options if o]
        if not kept:
            return "" if exp.is_optional or any(o == "" for o in options) else None
        body = " | ".join(f"( {o} )" for o in kept)
        return f"[ {body} ]" if exp.is_optional or "" in options else f"( {body} )"

    def rule(self, name: str, make: Callable[[], str | None]) -> str | None:
        name = re.sub(r"\W", "_", name)
        if name not in self.rules:
            self.rules[name] = None  # a rule that refers to itself resolves to nothing
            self.rules[name] = make()
        return f"<{name}>" if self.rules[name] else None

    def list_body(self, name: str) -> str | None:
        spoken = self.entry.spoken_lists.get(name)
        if spoken is not None:
            return spoken
        phrases = self.entry.spoken_phrases.get(name)
        if phrases:  # a list too long to listen for names the phrases speech takes
            return _choice(self.words(phrase) for phrase in phrases)
        slot_list = self.entry.intents.slot_lists.get(name)
        if isinstance(slot_list, TextSlotList):
            return _choice(self.expression(v.text_in) for v in slot_list.values)
        if isinstance(slot_list, RangeSlotList) and slot_list.stop < 60:
            return _choice(number_words(n) for n in range(slot_list.start, slot_list.stop + 1,
                                                          slot_list.step))
        return None


def _choice(options: Iterable[str | None]) -> str | None:
    kept = list(dict.fromkeys(o for o in options if o))
    return " | ".join(f"( {o} )" for o in kept) or None


def _has_list(exp: Expression) -> bool:
    if isinstance(exp, ListReference | RuleReference):
        return True
    return isinstance(exp, Group) and any(_has_list(item) for item in exp.items)


def _sentence_rule(builder: _Builder, text: str) -> str | None:
    """One template sentence as a grammar alternative: its lists as rule references, the words
    between them as flat alternatives of whole phrases.

    "(what is|what's) the time in {place}" becomes "(what is the time in | what's the time in)
    <list_place>". Sentences are not merged with each other: a grammar looser than the
    templates let "what's the time in Lima" be heard as "what's two twenty Lima".
    """
    expression = parse_sentence(text).expression
    items = expression.items if isinstance(expression, Group) and not isinstance(
        expression, Alternative | Permutation) else [expression]
    parts: list[str] = []
    current: set[str] | None = {""}
    for item in items:
        if isinstance(item, ListReference):
            body = builder.expression(item)
            if body is None or current is None:
                return None
            parts += [_phrases(current), body]
            current = {""}
        elif _has_list(item):  # a list inside a group: the expression as it is
            return builder.expression(expression)
        else:
            current = _product(current, _expand(builder, item))
    if current is None:
        return None
    parts.append(_phrases(current))
    return " ".join(part for part in parts if part) or None


def _phrases(options: set[str]) -> str:
    """Alternatives of whole phrases; optional when one of them is saying nothing."""
    kept = sorted(o for o in options if o)
    if not kept:
        return ""
    choice = " | ".join(kept)
    return f"[ {choice} ]" if "" in options else f"( {choice} )"


MAX_VARIANTS = 500  # a segment with more word strings than this stays out of the grammar


def _expand(builder: _Builder, exp: Expression) -> set[str] | None:
    """Every word string a list-free expression can be said as (flat: no empty branches).

    pocketsphinx turns nested optional groups into chains of empty transitions, which made the
    search slow and lost the final state; flat alternatives of whole phrases do neither.
    """
    if isinstance(exp, TextChunk):
        words = builder.words(exp.original_text or exp.text)
        return None if words is None else {words}
    if isinstance(exp, Alternative):
        out: set[str] = {""} if exp.is_optional else set()
        for item in exp.items:
            out |= _expand(builder, item) or set()
        return out or None
    if isinstance(exp, Group):
        result: set[str] | None = {""}
        for item in exp.items:
            result = _product(result, _expand(builder, item))
        return result
    return None


def _product(left: set[str] | None, right: set[str] | None) -> set[str] | None:
    if left is None or right is None:
        return None
    out = {" ".join(p for p in (a, b) if p) for a in left for b in right}
    return out if len(out) <= MAX_VARIANTS else None


def build_jsgf(entries: Iterable[ServiceIntents], known: Known) -> str | None:
    """The grammar text, or None when no sentence can be said with known words."""
    sentences: list[str] = []
    rules: dict[str, str | None] = {}
    for entry in entries:
        builder = _Builder(entry, known)
        builder.rules = rules  # shared: two services' lists of one name must agree
        for intent in entry.spec.intents.values():
            for block in intent.data:
                bodies = (_sentence_rule(builder, text) for text in block.sentences)
                sentences += [f"( {body} )" for body in bodies if body]
    if not sentences:
        return None
    lines = ["#JSGF V1.0;", "grammar commands;",
             f"public <command> = {' | '.join(dict.fromkeys(sentences))};"]
    lines += [f"<{name}> = {body};" for name, body in rules.items() if body]
    return "\n".join(lines) + "\n"
