"""The listen socket beyond one command, in a real headless Chromium (docs/console.md): a
service's question answered by voice on the socket its command runs on, and the follow-up
microphone ended by the server's end-of-speech detection (`vad` mode).

Offline speech (pocketsphinx) hears the fake microphone, which says "yes" then pauses, in a
loop: each press starts the file again, so the same word starts a command and answers its
question. The LLM is the scripted fake, so what it plans does not depend on the words.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement

from tests.console.harness import BackgroundLoop, Stack, fake_mic_wav
from tests.console.page import ConsolePage
from tests.console.test_listen import LISTEN, UPLOAD, _requests
from tests.fakes.openai_server import call, text, tool_turn

pytestmark = pytest.mark.timeout(180)
SILENCE_BEFORE_S, SILENCE_AFTER_S = 0.3, 0.8  # the level meter's 1.5 s never fits in a gap
HOLD_S = 1.1  # "yes" and some silence, over before the word comes round again


@pytest.fixture(scope="module")
def spoken() -> str:
    return "yes"


@pytest.fixture(scope="module")
def spoken_wav(tmp_path_factory: pytest.TempPathFactory, spoken: str) -> Path:
    return fake_mic_wav(tmp_path_factory.mktemp("mic"), spoken, SILENCE_BEFORE_S,
                        SILENCE_AFTER_S)


@pytest.fixture(scope="module")
def stack_settings() -> dict[str, Any]:
    """Offline recognition; the scripted LLM plans every command."""
    return {"stt": "local", "stt_timeout_s": 120}


@pytest.fixture(scope="module")
def page(browser: Any, servers: tuple[BackgroundLoop, Stack]) -> ConsolePage:
    return ConsolePage(browser, servers[1].url)


@pytest.fixture
def world(servers: tuple[BackgroundLoop, Stack], page: ConsolePage) -> tuple[BackgroundLoop, Stack]:
    loop, stack = servers
    loop.call(stack.openai.reset)
    page.driver.get_log("browser")
    return servers


def _script(loop: BackgroundLoop, stack: Stack, *turns: Any) -> None:
    loop.call(lambda: stack.openai.script(*turns))


def _hold_talk(page: ConsolePage) -> None:
    talk = page.button("Talk")
    ActionChains(page.driver).click_and_hold(talk).perform()
    page.wait(lambda: talk.get_attribute("aria-pressed") == "true",
              message="recording never started")
    time.sleep(HOLD_S)
    ActionChains(page.driver).release(talk).perform()
    page.wait(lambda: talk.get_attribute("aria-pressed") == "false")


def _card(page: ConsolePage, turn: WebElement) -> WebElement:
    try:
        card = page.wait(lambda: next(iter(turn.find_elements(By.CSS_SELECTOR,
                                                               ".card.question")), None), 120)
    except TimeoutException:
        pytest.fail(f"no question card in the turn: {turn.text!r}")
    assert card is not None
    return card


def _answers_posted(counts: dict[tuple[str, str, str], float]) -> float:
    return sum(n for (method, route, _), n in counts.items()
               if method == "POST" and route.endswith("/input"))


def _said_in(card: WebElement) -> str:
    return str(card.find_element(By.CSS_SELECTOR, ".said").get_attribute("textContent"))


def test_a_question_is_answered_by_voice_on_the_commands_socket(page: ConsolePage,
                                                                world) -> None:
    loop, stack = world
    page.open(stack.token("doorstep"))
    _script(loop, stack, tool_turn(call("questions__deliver", {})), "It is at your door.")
    before_counts = loop.run(_requests(stack))
    before = page.turn_count()
    _hold_talk(page)  # the command, on a socket
    turn = page.wait_turn(before)
    card = _card(page, turn)
    assert "Leave it at the door?" in card.text
    assert turn.get_attribute("data-via") == "listen"

    _hold_talk(page)  # the answer, on the same socket
    page.wait(lambda: card.find_element(By.TAG_NAME, "h3").text == "Answered", 60,
              "the answer was never taken")
    assert _said_in(card) == "You saidyes"
    assert int(card.get_attribute("data-partials") or 0) >= 1, "no partial text was shown"
    page.screenshot("listen-answered")
    assert page.wait_done(turn, 60) == "completed"
    assert page.turn_count() == before + 1, "an answer is not a new command"
    results = loop.call(lambda: stack.openai.requests[-1].tool_results)
    assert [r["content"] for r in results] == ['delivery: accept {"doorstep": true}'], results

    def counted() -> dict[tuple[str, str, str], float]:
        counts = loop.run(_requests(stack))  # the socket is counted once it has closed
        assert counts.get(LISTEN, 0) == before_counts.get(LISTEN, 0) + 1, counts
        return counts

    after = page.wait(counted, 10, "the server never counted the socket")
    assert _answers_posted(after) == _answers_posted(before_counts), "no answer was uploaded"
    assert after.get(UPLOAD, 0) == before_counts.get(UPLOAD, 0)
    assert page.browser_errors() == []


def test_a_refused_spoken_answer_shows_on_the_card_which_stays_open(page: ConsolePage,
                                                                   world) -> None:
    """Words that fit no field: the server's `answer_error` (422) is shown on the card; the
    question stays open and is then answered with the form."""
    loop, stack = world
    page.open(stack.token("table"))
    # The plan, then the LLM's reading of the spoken words (nothing fits), then the answer.
    _script(loop, stack, tool_turn(call("questions__book_table", {})), text("{}"),
            "Your table is booked.")
    before_counts = loop.run(_requests(stack))
    before = page.turn_count()
    _hold_talk(page)
    turn = page.wait_turn(before)
    card = _card(page, turn)
    _hold_talk(page)
    problem = card.find_element(By.CSS_SELECTOR, ".notice.error")
    page.wait(problem.is_displayed, 60, "the refusal was never shown")
    assert "people: missing" in problem.text and "time: missing" in problem.text, problem.text
    assert card.find_element(By.TAG_NAME, "h3").text == "A service asks"
    page.screenshot("listen-answer-refused")

    card.find_element(By.CSS_SELECTOR, "input[type=number]").send_keys("2")
    card.find_element(By.CSS_SELECTOR, "input[name=time]").send_keys("19:30")
    page.button("Accept", within=card).click()
    page.wait(lambda: card.find_element(By.TAG_NAME, "h3").text == "Answered")
    assert page.wait_done(turn, 60) == "completed"
    results = loop.call(lambda: stack.openai.requests[-1].tool_results)
    assert [r["content"] for r in results] == \
        ['got: accept {"people": 2, "time": "19:30"}'], results
    # Only the typed answer went to the input route; the spoken one went on the socket.
    counts = loop.run(_requests(stack))
    assert _answers_posted(counts) == _answers_posted(before_counts) + 1, counts


def test_an_answer_after_the_socket_dropped_is_uploaded(page: ConsolePage, world) -> None:
    """The connection drops while the question is open: the command is followed over SSE
    from there, and the spoken answer goes to the question's route as an upload."""
    loop, stack = world
    page.open(stack.token("dropped"))
    _script(loop, stack, tool_turn(call("questions__deliver", {})), "It is at your door.")
    before = page.turn_count()
    _hold_talk(page)
    turn = page.wait_turn(before)
    card = _card(page, turn)
    before_counts = loop.run(_requests(stack))
    assert loop.call(stack.proxy.cut) >= 1
    page.wait(lambda: any(t.startswith("Reconnected") for t in page.stage_texts(turn)),
              message="the command was never resumed over SSE")
    _hold_talk(page)
    page.wait(lambda: card.find_element(By.TAG_NAME, "h3").text == "Answered", 60,
              "the uploaded answer was never taken")
    assert page.wait_done(turn, 60) == "completed"
    results = loop.call(lambda: stack.openai.requests[-1].tool_results)
    assert [r["content"] for r in results] == ['delivery: accept {"doorstep": true}'], results
    counts = loop.run(_requests(stack))
    assert _answers_posted(counts) == _answers_posted(before_counts) + 1, counts


def test_escape_while_answering_takes_nothing_and_the_command_goes_on(page: ConsolePage,
                                                                    world) -> None:
    """Nothing takes an utterance back on the socket: Escape closes it, the command is
    followed over SSE, and the question is still open for the form."""
    loop, stack = world
    page.open(stack.token("escaper"))
    _script(loop, stack, tool_turn(call("questions__deliver", {})), "It is at your door.")
    before = page.turn_count()
    _hold_talk(page)
    turn = page.wait_turn(before)
    card = _card(page, turn)
    before_counts = loop.run(_requests(stack))
    talk = page.button("Talk")
    talk.click()  # a short press: recording until the next press, or Escape
    page.wait(lambda: talk.get_attribute("aria-pressed") == "true")
    time.sleep(HOLD_S)
    ActionChains(page.driver).send_keys(Keys.ESCAPE).perform()
    page.wait(lambda: talk.get_attribute("aria-pressed") == "false")
    page.wait(lambda: any(t.startswith("Reconnected") for t in page.stage_texts(turn)),
              message="the command was never followed over SSE")
    assert card.find_element(By.TAG_NAME, "h3").text == "A service asks"
    card.find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
    page.button("Accept", within=card).click()
    page.wait(lambda: card.find_element(By.TAG_NAME, "h3").text == "Answered")
    assert page.wait_done(turn, 60) == "completed"
    results = loop.call(lambda: stack.openai.requests[-1].tool_results)
    assert [r["content"] for r in results] == ['delivery: accept {"doorstep": true}'], results
    counts = loop.run(_requests(stack))  # only the form's answer went to the input route
    assert _answers_posted(counts) == _answers_posted(before_counts) + 1, counts


def test_the_follow_up_microphone_is_ended_by_the_server(page: ConsolePage, world) -> None:
    """After an answer that asks something, the microphone reopens on a socket in `vad`
    mode: the server's end of speech stops it after the first "yes". The level meter alone
    would wait for 1.5 s of quiet, which the looping microphone never gives (15 s)."""
    loop, stack = world
    page.open(stack.token("follower"))
    _script(loop, stack, "Which note should I read to you?", "Here is your shopping list.")
    before_counts = loop.run(_requests(stack))
    before = page.turn_count()
    page.send_text("read a note")
    assert page.wait_done(page.wait_turn(before)) in ("completed", "clarification_needed")
    talk = page.button("Talk")
    page.wait(lambda: talk.get_attribute("aria-pressed") == "true",
              message="the microphone did not reopen")
    opened = time.monotonic()
    page.wait(lambda: talk.get_attribute("aria-pressed") == "false", 12,
              "the server never ended the follow-up")
    assert time.monotonic() - opened < 8
    turn = page.wait_turn(before + 1)
    assert page.wait_done(turn, 60) == "completed"
    assert turn.get_attribute("data-via") == "listen"
    assert page.said(turn) == "You saidyes"
    assert page.answer(turn) == "Here is your shopping list."
    counts = loop.run(_requests(stack))
    assert counts.get(UPLOAD, 0) == before_counts.get(UPLOAD, 0), counts
    assert page.browser_errors() == []
    page.screenshot("listen-follow-up")
