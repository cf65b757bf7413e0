"""`continueConversation`: a question stays a question whatever trails it (docs/api.md)."""

from __future__ import annotations

import pytest

from voice_mcp.services.orchestrator.questions import asks_question


@pytest.mark.parametrize("text", [
    "Do you want Osaka too?",
    "¿Quieres más? 🌸",
    "¿Quieres más? 🌸  ",
    "Shall I? 👍🏽",  # a skin-tone modifier
    "Really?! 👨‍👩‍👧",  # a family joined by zero-width joiners
    "He asked: \"is it late?\"",
    "(anything else?)",
    "«¿Algo más?»",
    "もう一つ？ ✨",
    "Continue? ❤️\n",  # a heart with its variation selector
    "هل تريد المزيد؟ 🙂",
])
def test_a_question_followed_by_symbols_is_a_question(text: str) -> None:
    assert asks_question(text)


@pytest.mark.parametrize("text", [
    "It is 9 pm.", "Done! 🎉", "", "   ", "🌸", "Why? Because it is late.",
    "Ask me anything!",
])
def test_a_statement_is_not_a_question(text: str) -> None:
    assert not asks_question(text)
