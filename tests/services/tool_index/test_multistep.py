"""Ranking for multi-step requests: richer documents, server siblings, feedback, steps."""

from __future__ import annotations

import numpy as np
import pytest

from tests.services.tool_index.conftest import tool
from voice_mcp.services.mcp.models import ToolInfo
from voice_mcp.services.tool_index import ToolIndex, ToolRanker
from voice_mcp.services.tool_index.clauses import MAX_CLAUSES, split_clauses
from voice_mcp.services.tool_index.documents import tool_tokens
from voice_mcp.services.tool_index.index import BM25_K1, Feedback, with_siblings
from voice_mcp.services.tool_index.ranker import RankingOptions, steps
from voice_mcp.services.tool_index.tokens import tokenize


def names(index: ToolIndex, ranked: list[int]) -> list[str]:
    return [index.tools[i].qualified_name for i in ranked]


def test_enum_values_and_output_fields_are_indexed() -> None:
    chart = ToolInfo(service="charts", name="render", description="Render data.", input_schema={
        "type": "object",
        "properties": {"kind": {"type": "string", "enum": ["histogram", "wordcloud", 3]},
                       "tags": {"type": "array", "items": {"enum": ["sparkline"]}}}},
        output_schema={"type": "object", "properties": {
            "thumbnail": {"type": "string", "description": "A PNG preview"}}})
    tokens = tool_tokens(chart)
    for word in ("histogram", "wordcloud", "sparkline", "thumbnail", "png", "preview"):
        assert tokenize(word)[0] in tokens


def test_a_changed_output_schema_is_a_new_tool_version() -> None:
    from voice_mcp.services.tool_index.documents import content_hash
    plain = tool("s", "t", "Does things.")
    described = plain.model_copy(update={"output_schema": {"type": "object"}})
    assert content_hash(plain) != content_hash(described)


def test_with_siblings_adds_a_share_of_the_best_score_of_each_service() -> None:
    scores = np.asarray([4.0, 1.0, 0.0, 2.0, 1.0], dtype=np.float32)
    service_of = np.asarray([0, 0, 0, 1, 1])
    # A tool with no word of the request (0.0) stays out whatever its siblings score.
    assert with_siblings(scores, service_of, 2, 0.5).tolist() == [6.0, 3.0, 0.0, 3.0, 2.0]


def test_a_sibling_of_a_matching_service_ranks_above_a_stranger() -> None:
    index = ToolIndex([
        tool("tracker", "open_ticket", "Open a ticket in the bug tracker."),
        tool("notes", "comment", "Add a comment."),
        tool("tracker", "comment", "Add a comment to an item of the list by its number."),
        tool("notes", "archive", "Archive a note."),
    ])
    request = "open a ticket and add a comment"
    alone = names(index, index.rank(request, 4))
    grouped = names(index, index.rank(request, 4, sibling_weight=0.5))
    assert alone.index("notes.comment") < alone.index("tracker.comment")
    assert grouped.index("tracker.comment") < grouped.index("notes.comment")
    assert "notes.archive" not in grouped  # no word of the request: siblings add no stranger


@pytest.mark.parametrize(("request_text", "steps"), [
    ("search the web for trending games, chart them and put it all in a PDF",
     ["search the web for trending games", "chart them", "put it all in a PDF"]),
    ("check the logs then restart the pod", ["check the logs", "restart the pod"]),
    ("busca el vuelo y luego reserva el hotel", ["busca el vuelo", "reserva el hotel"]),
    ("查一下天气，然后发邮件给老板", ["查一下天气", "发邮件给老板"]),
])
def test_a_request_splits_into_its_steps(request_text: str, steps: list[str]) -> None:
    assert split_clauses(request_text) == steps


def test_a_single_step_request_is_not_split() -> None:
    assert split_clauses("what time is it in Tokyo") == []
    assert split_clauses("and, then") == []  # no step has a word that ranks


def test_a_long_request_costs_at_most_a_few_rankings() -> None:
    request = ", ".join(f"step number {i}" for i in range(12))
    assert len(split_clauses(request)) == MAX_CLAUSES


def test_only_steps_of_two_ranking_words_or_more_get_a_quota() -> None:
    request = "search the web for trending games, chart it and put it all in a PDF"
    assert steps(request) == ["search the web for trending games", "put it all in a PDF"]
    assert steps("what time is it in Tokyo") == []


GAME_TOOLS = [tool("web", "trending", "Trending topics and trending games."),
              tool("web", "headlines", "News headlines and game news."),
              tool("web", "reviews", "Game reviews and review scores."),
              tool("docs", "pdf", "Export as PDF.")]


@pytest.mark.parametrize(("clauses", "offered"), [(False, False), (True, True)])
async def test_each_step_gets_its_best_tools_first(clauses: bool, offered: bool) -> None:
    index = ToolIndex(GAME_TOOLS)
    request = "find trending games with news headlines with review scores, then export as pdf"
    ranker = ToolRanker(options=RankingOptions(clauses=clauses, sibling_weight=0.0, expansion=0,
                                               step_quota=1))
    assert ("docs.pdf" in names(index, await ranker.rank(index, request, 2))) is offered


async def test_the_whole_request_fills_what_the_steps_leave() -> None:
    index = ToolIndex(GAME_TOOLS)
    ranker = ToolRanker(options=RankingOptions(step_quota=1, sibling_weight=0.0, expansion=0))
    ranked = names(index, await ranker.rank(index, "trending games, then export as pdf", 4))
    assert ranked[:2] == ["web.trending", "docs.pdf"]  # each step's best, in step order
    assert set(ranked[2:]) == {"web.headlines", "web.reviews"}  # "games": the whole request


MAIL_TOOLS = [tool("mail", "send_email", "Send an email message to recipients.",
                   to="Recipient addresses", subject="Subject line", body="Message body"),
              tool("mail", "draft_email", "Create a draft, not sent.",
                   to="Recipient addresses", subject="Subject line", body="Message body"),
              tool("chat", "post_message", "Post a message in a channel.", channel="Channel"),
              tool("files", "read_file", "Read a file from disk.", path="Path")]


def test_feedback_borrows_the_best_tools_words_and_keeps_the_request_first() -> None:
    index = ToolIndex(MAIL_TOOLS)
    # "subject" and "recipients" are not in the request: the best tool lends them.
    assert names(index, index.rank("send the summary", 4)) == ["mail.send_email"]
    expanded = names(index, index.rank("send the summary", 4, expansion=5))
    assert expanded[0] == "mail.send_email"
    assert "mail.draft_email" in expanded
    assert "files.read_file" not in expanded  # shares no word with the request or its best tool


def test_feedback_weights_borrowed_words_below_the_requests_own() -> None:
    corpus = [["send", "email", "recipient", "recipient"], ["post", "channel"], ["read", "file"]]
    vocab = {w: i for i, w in enumerate(dict.fromkeys(w for doc in corpus for w in doc))}
    feedback = Feedback(corpus, vocab)
    scores = np.asarray([3.0, 0.0, 0.0], dtype=np.float32)
    weights = feedback.expand([vocab["send"], vocab["send"]], scores, terms=2)
    assert weights[vocab["send"]] == 2.0  # a repeated request word counts twice, as in BM25
    assert weights[vocab["recipient"]] == pytest.approx(0.3)  # the best borrowed word
    assert 0 < weights[vocab["email"]] < weights[vocab["recipient"]]
    assert vocab["post"] not in weights  # only the best-ranked tools lend words
    assert feedback.expand([vocab["send"]], np.zeros(3, dtype=np.float32), 2) == {0: 1.0}


def test_no_match_means_no_feedback() -> None:
    assert ToolIndex(MAIL_TOOLS).rank("zzqx", 4, expansion=5) == []


def test_term_saturation_is_the_measured_one() -> None:
    # A word three times in a tool counts more with k1 2.0 than with bm25s' default 1.5.
    tools = [tool("a", "x", "weather weather weather"), tool("b", "y", "weather rain snow"),
             tool("c", "z", "play music")]
    ratio = {}
    for k1 in (1.5, BM25_K1):
        scores = ToolIndex(tools, k1=k1).scores("weather")
        ratio[k1] = float(scores[0] / scores[1])
    assert BM25_K1 == 2.0
    assert ratio[BM25_K1] > ratio[1.5] > 1


def test_weighted_scores_with_count_weights_are_bm25_scores() -> None:
    index = ToolIndex(MAIL_TOOLS)
    query = "send a message, send it to the channel"
    counts: dict[int, float] = {}
    for word in tokenize(query):
        counts[index._vocab[word]] = counts.get(index._vocab[word], 0.0) + 1.0
    assert np.allclose(index.weighted_scores(counts), index.scores(query))
    assert index.weighted_scores({}).tolist() == [0.0] * len(MAIL_TOOLS)
