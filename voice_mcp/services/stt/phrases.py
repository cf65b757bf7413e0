"""Listening for a known set of phrases: the answer to a service's question, offline.

Open-vocabulary recognition of a word or two said alone is poor ("large" heard as "launch",
"small please" as "so please"); a grammar of the question's own phrases (its options, yes
and no, numbers, "cancel") hears them. The listen socket asks for it when the user answers a
question (docs/api.md, "Listen"); a search named PHRASES is added to a leased decoder, in
well under a millisecond for a question's phrases.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, Final

from voice_mcp.services.stt.local import Decoders

log = logging.getLogger(__name__)
PHRASES: Final = "phrases"
_WORD = re.compile(r"^[a-z']+$")


def phrase_grammar(phrases: list[str], knows: Callable[[str], bool]) -> str | None:
    """A JSGF grammar of any sequence of the phrases whose words the dictionary knows
    (`knows(word)`), then an optional "please"; None when none is left."""
    kept = []
    for phrase in phrases:
        words = phrase.lower().split()
        if words and all(_WORD.match(w) and knows(w) for w in words):
            kept.append(" ".join(words))
    if not kept:
        return None
    return ("#JSGF V1.0;\ngrammar phrases;\n"
            f"public <{PHRASES}> = ( {' | '.join(sorted(set(kept)))} )+ [please];\n")


def with_phrases(decoders: Decoders, phrases: list[str]) -> Any | None:
    """The leased open-vocabulary decoder now searching PHRASES (the template decoder, tuned
    for long sentences, inserted more words: "no" heard as "no two"); None when the grammar
    cannot be made (the utterance is then recognised as any other)."""
    decoder = decoders.open
    grammar = phrase_grammar(phrases, lambda word: decoder.lookup_word(word) is not None)
    if grammar is None:
        return None
    try:
        # Replacing the active search frees it under the decoder (an abort at the next
        # utterance): the last answer's PHRASES may still be the active one.
        decoder.activate_search(decoders.default_search)
        decoder.add_jsgf_string(PHRASES, grammar)
    except (ValueError, RuntimeError):
        log.warning("an answer's phrases did not load; using the usual search")
        return None
    return decoder
