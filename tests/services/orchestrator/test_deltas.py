"""DeltaCoalescer: first piece at once, sentences at once, the rest within the interval."""

from __future__ import annotations

import asyncio

from voice_mcp.services.orchestrator.deltas import DeltaCoalescer, ends_sentence


def collector() -> tuple[list[str], DeltaCoalescer]:
    sent: list[str] = []
    return sent, DeltaCoalescer(sent.append, interval_s=0.02)


async def test_first_piece_leaves_at_once_then_pieces_are_gathered() -> None:
    sent, deltas = collector()
    deltas.feed("Hello")
    assert sent == ["Hello"]
    for piece in [" wor", "ld", ",", " how", " are", " you"] * 20:
        deltas.feed(piece)
    assert len(sent) <= 3  # gathered (a busy machine may let the timer fire once or twice)
    deltas.close()
    assert "".join(sent) == deltas.sent == "Hello" + " world, how are you" * 20


async def test_a_sentence_end_flushes_without_waiting() -> None:
    sent, deltas = collector()
    deltas.feed("One")
    deltas.feed(" two.")
    assert sent == ["One", " two."]
    deltas.feed(" 東京です。")
    assert sent[-1] == " 東京です。"


async def test_the_timer_sends_what_waits() -> None:
    got = asyncio.Event()
    sent: list[str] = []

    def send(text: str) -> None:
        sent.append(text)
        if len(sent) == 2:
            got.set()

    deltas = DeltaCoalescer(send, interval_s=0.02)
    deltas.feed("a")
    deltas.feed("b")
    async with asyncio.timeout(5):
        await got.wait()
    assert sent == ["a", "b"]


async def test_joiners_and_surrogates_and_spaces_wait_for_more() -> None:
    sent, deltas = collector()
    deltas.feed("  ")
    deltas.feed(" 👨\u200d")
    assert sent == ["👨"]  # leading spaces dropped, the joiner held
    deltas.feed("👩.")
    assert sent[-1] == "\u200d👩."
    deltas.feed(" \ud83d")  # a server that cut a surrogate pair
    deltas._flush()
    assert sent[-1] == "\u200d👩."
    deltas.feed("\ude00 ")
    deltas.close()
    assert deltas.sent == "👨\u200d👩. \ud83d\ude00"


async def test_segments_are_joined_by_one_space() -> None:
    sent, deltas = collector()
    deltas.feed("Let me check. ")
    deltas.pause()
    deltas.feed("  It is 9.")
    deltas.close()
    assert "".join(sent) == deltas.sent == "Let me check. It is 9."


def test_sentence_ends() -> None:
    assert ends_sentence("Done.") and ends_sentence('He said "yes!" ') and ends_sentence("はい。")
    assert not ends_sentence("Dr") and not ends_sentence("") and not ends_sentence("   ")
