"""A JSGF grammar of every template sentence, so the offline recogniser hears in-domain words.

Lists become rules (`<place> = tokyo | new york | ...;`), so the grammar stays small however
many values a list has. Words the recogniser's dictionary lacks drop their alternative out.
"""

from __future__ import annotations

import random
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


def _factored(builder: _Builder, sentences: list[str]) -> list[str]:
    """Sentences with the same lists in the same order share one copy of each list.

    "what time is it in {place}" and "tell me the time in {place}" become
    "(what time is it in | tell me the time in) <place>": the recogniser expands every list
    reference into its own copy, so this keeps the search small. It accepts a few more word
    orders than the templates; the text matcher decides afterwards.
    """
    skeletons: dict[tuple[str, ...], list[list[set[str]]]] = {}
    loose: list[str] = []
    for text in sentences:
        expression = parse_sentence(text).expression
        items = expression.items if isinstance(expression, Group) and not isinstance(
            expression, Alternative | Permutation) else [expression]
        segments: list[set[str]] = []
        lists: list[str] = []
        current: set[str] | None = {""}
        for item in items:
            if isinstance(item, ListReference):
                body = builder.expression(item)
                if body is None:
                    break
                segments.append(current or set())
                lists.append(body)
                current = {""}
            elif _has_list(item):
                body = builder.expression(expression)
                if body:
                    loose.append(body)
                break
            else:
                current = _product(current, _expand(builder, item))
                if current is None:
                    break
        else:
            segments.append(current or set())
            skeletons.setdefault(tuple(lists), []).append(segments)
    out = list(loose)
    for refs, variants in skeletons.items():
        parts: list[str] = []
        for index in range(len(refs) + 1):
            options = set().union(*(v[index] for v in variants))
            kept = sorted(o for o in options if o)
            if kept:
                choice = " | ".join(kept)
                parts.append(f"[ {choice} ]" if "" in options else f"( {choice} )")
            if index < len(refs):
                parts.append(refs[index])
        out.append(" ".join(parts))
    return out


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
        texts = [text for intent in entry.spec.intents.values() for block in intent.data
                 for text in block.sentences]
        sentences += [f"( {body} )" for body in _factored(builder, texts) if body]
    if not sentences:
        return None
    lines = ["#JSGF V1.0;", "grammar commands;",
             f"public <command> = {' | '.join(dict.fromkeys(sentences))};"]
    lines += [f"<{name}> = {body};" for name, body in rules.items() if body]
    return "\n".join(lines) + "\n"


class _Sampler(_Builder):
    """Random sentences of the templates in dictionary words, to train a small n-gram model."""

    def __init__(self, entry: ServiceIntents, known: Known, rng: random.Random) -> None:
        super().__init__(entry, known)
        self.rng = rng

    def sample(self, exp: Expression) -> str | None:
        if isinstance(exp, TextChunk):
            return self.words(exp.original_text or exp.text)
        if isinstance(exp, ListReference):
            return self.sample_list(exp.list_name)
        if isinstance(exp, RuleReference):
            source = self.entry.spec.expansion_rules.get(exp.rule_name, "")
            return self.sample(parse_sentence(source).expression)
        if isinstance(exp, Alternative):
            options = list(exp.items) + ([TextChunk("")] if exp.is_optional else [])
            return self.sample(self.rng.choice(options))
        if isinstance(exp, Group):
            parts = [self.sample(item) for item in exp.items]
            return None if any(p is None for p in parts) else " ".join(p for p in parts if p)
        return None

    def sample_list(self, name: str) -> str | None:
        phrases = self.entry.spoken_phrases.get(name)
        if phrases:
            return self.words(self.rng.choice(phrases))
        slot_list = self.entry.intents.slot_lists.get(name)
        if isinstance(slot_list, TextSlotList) and slot_list.values:
            return self.sample(self.rng.choice(slot_list.values).text_in)
        if isinstance(slot_list, RangeSlotList) and slot_list.stop < 60:
            return number_words(self.rng.randrange(slot_list.start, slot_list.stop + 1,
                                                   slot_list.step))
        return None


def sample_sentences(entries: Iterable[ServiceIntents], known: Known, per_sentence: int = 40,
                     seed: int = 11) -> list[str]:
    """Sentences said the ways the templates allow, each template sampled `per_sentence` times."""
    rng = random.Random(seed)
    out: list[str] = []
    for entry in entries:
        sampler = _Sampler(entry, known, rng)
        for intent in entry.spec.intents.values():
            for block in intent.data:
                for text in block.sentences:
                    expression = parse_sentence(text).expression
                    for _ in range(per_sentence):
                        said = sampler.sample(expression)
                        if said:
                            out.append(said)
    return out
