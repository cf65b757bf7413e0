"""Split a multi-step request into its steps, without asking an LLM.

"Search for trending games, chart them and put it all in a PDF" needs a search tool, a chart
tool and a document tool. Ranked as one bag of words, the step with the rarest words takes
every slot; ranked step by step, each step gets its own best tools (docs/discovery.md).
A step boundary is punctuation, or a connective word ("and", "then", "after that", ...) in
English and the other languages whose common words the tokenizer knows, or CJK punctuation
and connectives (然后, 并且, 再, 그리고 ...).
"""

from __future__ import annotations

import re
from typing import Final

from voice_mcp.services.tool_index.tokens import tokenize

MAX_CLAUSES: Final = 6  # a request of many steps still costs at most this many rankings
MAX_QUERY_CHARS: Final = 1000

_CONNECTIVES: Final = (
    # English
    "and then", "and also", "and", "then", "after that", "afterwards", "also", "plus",
    "as well as", "once done", "once that's done", "finally", "next", "before that",
    # Spanish, German, French, Italian, Portuguese
    "y luego", "y después", "y", "luego", "después", "además",
    "und dann", "und", "dann", "danach", "außerdem", "anschließend",
    "et ensuite", "et puis", "et", "puis", "ensuite", "après ça",
    "e poi", "poi", "e quindi", "e depois", "depois", "e",
)
_WORDS = "|".join(re.escape(c) for c in sorted(_CONNECTIVES, key=len, reverse=True))
_SPACED = re.compile(rf"[.;:!?,\n]+|\s(?:{_WORDS})\s", re.IGNORECASE)
_CJK = re.compile(r"[，。；、！？,.;!?\n]+|然后|并且|接着|之后|再把|再|并"
                  r"|그리고|그다음|そして|それから")


def split_clauses(query: str) -> list[str]:
    """The request's steps, each with at least one ranking token; [] for a single step."""
    text = f" {query[:MAX_QUERY_CHARS]} "
    parts = [p for piece in _SPACED.split(text) for p in _CJK.split(piece)]
    clauses = [p.strip() for p in parts if tokenize(p)]
    if len(clauses) < 2:
        return []
    if len(clauses) > MAX_CLAUSES:  # keep the first steps; the last ones join the last clause
        clauses = [*clauses[:MAX_CLAUSES - 1], " ".join(clauses[MAX_CLAUSES - 1:])]
    return clauses
