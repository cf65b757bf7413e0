"""Risk of a tool (docs/api.md, "Risk"): a level and a short human reason, decided by code.

It fails closed. A catalog override (`[services.<id>.risk]`, globs on the tool name) wins
outright; otherwise the level is the HIGHEST that any piece of evidence gives:

1. The MCP annotations, with the spec's defaults where a hint is absent (`readOnlyHint`
   false, `destructiveHint` true, `openWorldHint` true). So a tool that does not declare
   itself read-only, or a non-destructive write confined to its own service, is `high`:
   nothing shows it harmless. `readOnlyHint: true` gives `low` (and `destructiveHint` with
   it is a contradiction: `high`); `readOnlyHint: false, destructiveHint: false,
   openWorldHint: false` gives `medium`. `idempotentHint` never lowers anything.
2. Keywords in the name (snake_case, camelCase, kebab-case; whole words only, so
   `list_deleted_items` reads).
3. Keywords in the description's first sentence (where "Deletes", "pushes", "replied" count).

Text is cut into clauses on and/or/then (and punctuation in descriptions); in a clause the
highest clear verb counts. Words that are nouns as often as verbs (post, email, merge,
update ...) count only when the clause has no other keyword, so `get_post` reads and
`post_message` publishes. For a tool that declares itself read-only they do not count at
all (they cannot contradict the declaration); for a declared write, words about messages
and money count as clearly as verbs. Anything that runs commands or code, speaks SQL, moves
money or messages people is `high`. Misreadings of prose lean towards the higher level,
which only costs a question; the catalog can pin any tool to any level.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Literal

from pydantic import BaseModel, ConfigDict

from voice_mcp.services.catalog import RiskLevel
from voice_mcp.services.mcp.models import ToolHints, ToolInfo

__all__ = [
    "LEVELS",
    "RiskAssessment",
    "assess",
    "match_override",
    "needs_confirmation",
    "rank",
]

LEVELS: tuple[RiskLevel, ...] = ("low", "medium", "high")

# Reasons, short enough to read aloud.
READS = "reads data"
WRITES = "changes data you can undo"
DELETES = "deletes data"
OVERWRITES = "deletes or overwrites data"
MAY_OVERWRITE = "may delete or overwrite data"
CANCELS = "cancels or revokes something"
SENDS = "sends a message outside your account"
PUBLISHES = "publishes content"
PAYS = "moves money"
SHIPS = "changes shared code or live systems"
RUNS = "runs commands that can change anything"
OUTSIDE = "acts outside this service"
CONTRADICTS = "the service calls it both read-only and destructive"
MAY_ACT_OUTSIDE = "may act outside this service"
CATALOG = "set by the service catalog"
UNKNOWN = "unknown effect"


class RiskAssessment(BaseModel):
    """A tool's risk level and why; frozen because assessments are cached and shared."""

    model_config = ConfigDict(frozen=True)

    level: RiskLevel
    reason: str


def rank(level: RiskLevel) -> int:
    """Order levels explicitly, so comparisons never depend on string order."""
    return LEVELS.index(level)


def needs_confirmation(level: RiskLevel, threshold: Literal["medium", "high"]) -> bool:
    """Tell whether a call at `level` must wait for the user's approval."""
    return rank(level) >= rank(threshold)


def _keywords(level: RiskLevel, reason: str, words: str) -> dict[str, RiskAssessment]:
    verdict = RiskAssessment(level=level, reason=reason)
    return dict.fromkeys(words.split(), verdict)


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


KEYWORDS: dict[str, RiskAssessment] = {
    **_keywords("low", READS, "get list read search find show fetch query describe convert view"
                " lookup look browse inspect preview check count retrieve calculate compute"
                " translate summarize validate compare diff explain"),
    **_keywords("medium", WRITES, "create add update edit set write move rename commit insert"
                " upload save modify patch put append change copy make new apply assign"
                " schedule enable install start stop restart run open close archive restore"
                " tag label mark star upsert replace import sync stage unstage attach invoke"
                " trigger"),
    **_keywords("high", DELETES, "delete remove drop destroy erase purge wipe truncate trash"
                " unlink rm del clear empty"),
    **_keywords("high", OVERWRITES, "reset revert rollback overwrite"),
    **_keywords("high", CANCELS, "revoke cancel terminate kill disable uninstall ban"),
    **_keywords("high", SENDS, "send email mail reply forward notify invite message dm sms"),
    **_keywords("high", PUBLISHES, "post publish share tweet comment broadcast announce"),
    **_keywords("high", PAYS, "pay transfer purchase buy charge refund withdraw donate order"
                " book reserve payment payments funds fund money wire invoice payout"),
    **_keywords("high", SHIPS, "merge deploy push release rollout"),
    **_keywords("high", RUNS, "exec execute eval shell sudo command cmd process spawn script"
                " bash powershell terminal sql javascript evaluate"),
}

# Words used as nouns as often as verbs (`get_post`, `list_merge_request`, `get_new_items`):
# in a clause they count only when no other keyword is there.
AMBIGUOUS = _wordset(
    "email mail message dm sms post comment share reply tweet transfer charge refund order book"
    " purchase pay merge push release tag label star stage trash mark commit patch reset rollback"
    " invite update change run archive schedule upload query view preview check new open close"
    " start stop set move make copy clear empty process payment payments funds fund money wire"
    " invoice"
)
# For a declared write these count as clearly as verbs: `create_message` sends, `add_payment` pays.
OUTWARD_NOUNS = _wordset(
    "email mail message dm sms transfer charge refund pay purchase payment payments funds fund"
    " money wire invoice"
)
CLAUSE_WORDS = frozenset({"and", "or", "then", "also"})
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s|\n")
_CLAUSE_BREAK = re.compile(r"[,;:(]|\b(?:and|or|then|also)\b", re.IGNORECASE)
_GLOB_SYNTAX = re.compile(r"\[[^\]]*\]|[*?]")


def tokens(text: str) -> list[str]:
    """Split a name or phrase into lower-case words: `deleteEvent`, `git_reset`, `send-email`."""
    return [word.lower() for word in _WORD.findall(text)]


def _inflected(word: str) -> str | None:
    """Find the keyword behind a third-person or past form: deletes, pushes, replies, stopped."""
    if word in KEYWORDS:
        return word
    candidates: list[str] = []
    if word.endswith(("ies", "ied")):
        candidates.append(word[:-3] + "y")
    for suffix in ("es", "s", "ed", "ing"):
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            stem = word[: -len(suffix)]
            candidates += [stem, stem + "e"]
            if len(stem) > 2 and stem[-1] == stem[-2]:
                candidates.append(stem[:-1])  # stopped, dropping
    return next((c for c in candidates if c in KEYWORDS), None)


def _clause_level(words: list[str], ambiguous: frozenset[str],
                  ignore_ambiguous: bool) -> RiskAssessment | None:
    """Judge one clause: the highest clear verb, else the first noun-or-verb keyword."""
    clear = [KEYWORDS[w] for w in words if w not in ambiguous]
    if clear:
        return max(clear, key=lambda v: rank(v.level))
    return KEYWORDS[words[0]] if words and not ignore_ambiguous else None


def _highest(verdicts: Iterable[RiskAssessment | None]) -> RiskAssessment | None:
    found = [v for v in verdicts if v is not None]
    return max(found, key=lambda v: rank(v.level)) if found else None


def _name_clauses(name: str) -> list[list[str]]:
    # Names match keywords exactly: `list_deleted_items` and `messages_list` are reads.
    clauses: list[list[str]] = [[]]
    for word in tokens(name):
        if word in CLAUSE_WORDS:
            clauses.append([])
        elif word in KEYWORDS:
            clauses[-1].append(word)
    return clauses


def _description_clauses(description: str) -> list[list[str]]:
    first = _SENTENCE_END.split(description.strip(), maxsplit=1)[0][:300]
    return [[k for k in map(_inflected, tokens(part)) if k is not None]
            for part in _CLAUSE_BREAK.split(first)]


def from_words(name: str, description: str, *, read_only: bool = False) -> RiskAssessment | None:
    """The highest level the name's and the description's first sentence's words give.

    For a tool declared read-only, noun-or-verb words are ignored; for a write, words about
    messages and money count as clear verbs.
    """
    ambiguous = AMBIGUOUS if read_only else AMBIGUOUS - OUTWARD_NOUNS
    clauses = _name_clauses(name) + _description_clauses(description)
    return _highest(_clause_level(c, ambiguous, read_only) for c in clauses)


def _specificity(pattern: str) -> tuple[int, int]:
    literal = _GLOB_SYNTAX.sub("", pattern)
    return (1 if literal == pattern else 0, len(literal))


def match_override(name: str, overrides: Iterable[tuple[str, RiskLevel]]) -> RiskLevel | None:
    """Pick the most specific matching glob's level; on a tie, the first listed wins."""
    best: tuple[tuple[int, int], RiskLevel] | None = None
    for pattern, level in overrides:
        if fnmatchcase(name, pattern):
            score = _specificity(pattern)
            if best is None or score > best[0]:
                best = (score, level)
    return best[1] if best else None


def from_hints(hints: ToolHints) -> RiskAssessment:
    """Read the annotations with the MCP spec's defaults for absent hints (fail closed)."""
    if hints == ToolHints():
        return RiskAssessment(level="high", reason=UNKNOWN)
    if hints.read_only is True:
        if hints.destructive is True:
            return RiskAssessment(level="high", reason=CONTRADICTS)
        return RiskAssessment(level="low", reason=READS)
    if hints.destructive is True:
        return RiskAssessment(level="high", reason=OVERWRITES)
    if hints.destructive is None:
        return RiskAssessment(level="high", reason=MAY_OVERWRITE)
    if hints.open_world is True:
        return RiskAssessment(level="high", reason=OUTSIDE)
    if hints.open_world is None:
        return RiskAssessment(level="high", reason=MAY_ACT_OUTSIDE)
    return RiskAssessment(level="medium", reason=WRITES)


@functools.lru_cache(maxsize=4096)
def _assess(name: str, description: str, hints: ToolHints,
            overrides: tuple[tuple[str, RiskLevel], ...]) -> RiskAssessment:
    override = match_override(name, overrides)
    if override is not None:
        return RiskAssessment(level=override, reason=CATALOG)
    by_hints = from_hints(hints)
    by_words = from_words(name, description, read_only=hints.read_only is True)
    # On a tie the words' reason wins: "deletes data" says more than "may overwrite data".
    return _highest([by_words, by_hints]) or by_hints


def assess(tool: ToolInfo, overrides: Mapping[str, RiskLevel]) -> RiskAssessment:
    """Rate one tool: catalog overrides, then MCP annotations, then its name and description."""
    return _assess(tool.name, tool.description, tool.hints, tuple(overrides.items()))
