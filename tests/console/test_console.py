"""The web console in a real headless Chromium against the real server (contract section 14).

One browser for the module; each test signs in as its own user. Every flow saves a screenshot
in tests/console/screenshots/ (git-ignored).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.console.conftest import SPOKEN
from tests.console.features import Features, probe
from tests.console.harness import BackgroundLoop, Gate, Stack
from tests.console.page import ConsolePage
from tests.fakes.openai_server import TranscriptionRequest, call, tool_turn

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def features(servers: tuple[BackgroundLoop, Stack]) -> Features:
    """What the server can do; running the probe also starts every MCP session."""
    loop, stack = servers
    return loop.run(probe(stack))


@pytest.fixture(scope="module")
def page(browser: Any, servers: tuple[BackgroundLoop, Stack], features: Features) -> ConsolePage:
    return ConsolePage(browser, servers[1].url)


@pytest.fixture
def world(servers: tuple[BackgroundLoop, Stack], page: ConsolePage) -> Iterator[tuple[BackgroundLoop, Stack]]:
    """A fresh script for each test, and no browser error (a CSP violation is one) left over."""
    loop, stack = servers
    loop.call(stack.openai.reset)
    page.driver.get_log("browser")
    yield servers
    assert page.browser_errors() == []


def script(loop: BackgroundLoop, stack: Stack, *turns: Any) -> None:
    loop.call(lambda: stack.openai.script(*turns))


def test_sign_in_link_scrubs_the_token_and_names_every_control(page: ConsolePage, world) -> None:
    _, stack = world
    page.open(stack.token("alice"))
    assert "token" not in page.driver.current_url
    assert page.driver.execute_script("return sessionStorage.getItem('voice-mcp-token')") == stack.token("alice") or \
        page.driver.execute_script("return sessionStorage.getItem('voice-mcp-token')").count(".") == 2
    assert page.driver.find_element(By.ID, "who").text == "Signed in as alice"
    assert page.command_field().is_displayed()
    for name in ("Send", "Talk", "New conversation"):
        assert page.button(name).is_displayed()
    assert page.button("Talk").get_attribute("aria-pressed") == "false"
    assert page.log().get_attribute("role") == "log"
    service = page.wait(lambda: page.driver.find_element(By.CSS_SELECTOR, "li[data-service=secure_notes]"))
    assert "Not connected" in service.text
    assert page.button("Connect", within=service).is_displayed()
    example = page.wait(lambda: page.button("List my notes"))
    assert example.is_enabled()
    page.screenshot("signed-in")


def test_typed_command_stages_streamed_answer_busy_state_and_timings(page: ConsolePage, world,
                                                                   features: Features) -> None:
    loop, stack = world
    page.open(stack.token("typed"))
    answer = "You have no notes yet. Say add a note to make one."
    gate = Gate(loop, answer)
    script(loop, stack, tool_turn(call("notes__list_notes")), gate)
    before = page.turn_count()
    page.send_text("show my notes")
    turn = page.wait_turn(before)
    gate.wait_arrived()
    assert not page.button("Send").is_enabled(), "Send stays disabled while a command runs"
    assert not page.button("List my notes").is_enabled()
    assert page.log().get_attribute("aria-busy") == "true"
    gate.open()
    assert page.wait_done(turn) == "completed"
    assert page.button("Send").is_enabled()
    assert page.said(turn) == "show my notes"
    types = page.stage_types(turn)
    assert types[0] == "analyzing"
    assert {"discovering", "selecting", "executing", "executed"} <= set(types), types
    assert page.answer(turn) == answer
    if features.deltas:
        assert int(turn.find_element(By.CSS_SELECTOR, ".answer").get_attribute("data-deltas")) > 1
    badge = turn.find_element(By.CSS_SELECTOR, ".status")
    assert badge.text.startswith("Done")
    rows = turn.find_elements(By.CSS_SELECTOR, ".waterfall .track")
    assert len(rows) >= 3, "a waterfall row per stage and tool"
    assert "notes.list_notes" in turn.find_element(By.CSS_SELECTOR, ".waterfall").text
    page.screenshot("typed-command")


def _rms_of(request: TranscriptionRequest, tmp_path) -> float:
    """Decode the uploaded recording with ffmpeg: how loud it is (silence is ~0)."""
    source = tmp_path / (request.filename or "speech.webm")
    source.write_bytes(request.file)
    pcm = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(source), "-f", "s16le",
                          "-ac", "1", "-ar", "16000", "-"], capture_output=True, check=True).stdout
    samples = memoryview(pcm).cast("h")
    return (sum(s * s for s in samples) / max(1, len(samples))) ** 0.5


def _hold_space(page: ConsolePage, seconds: float) -> None:
    """Hold Space for `seconds` of recording (the length of the spoken sentence, not a wait)."""
    page.driver.find_element(By.TAG_NAME, "body").click()
    ActionChains(page.driver).key_down(Keys.SPACE).perform()
    talk = page.button("Talk")
    page.wait(lambda: talk.get_attribute("aria-pressed") == "true", message="recording never started")
    page.wait(lambda: int(page.driver.find_element(By.ID, "level").get_attribute("aria-valuenow")) > 0,
              message="the input level never moved")
    page.screenshot("recording")
    time.sleep(seconds)
    ActionChains(page.driver).key_up(Keys.SPACE).perform()
    page.wait(lambda: talk.get_attribute("aria-pressed") == "false")


def test_push_to_talk_sends_real_audio_and_shows_what_was_heard(page: ConsolePage, world,
                                                                tmp_path) -> None:
    loop, stack = world
    page.open(stack.token("talker"))
    loop.call(lambda: stack.openai.script_transcription(SPOKEN, SPOKEN))
    script(loop, stack, tool_turn(call("notes__list_notes")), "Your notebook is empty.",
           tool_turn(call("notes__list_notes")), "Still empty.")
    before = page.turn_count()
    _hold_space(page, 2.5)
    turn = page.wait_turn(before)
    assert page.wait_done(turn) == "completed"
    assert page.said(turn) == f"You said{SPOKEN}"
    types = page.stage_types(turn)
    assert types[:2] == ["transcribing", "transcribed"], types
    assert page.answer(turn) == "Your notebook is empty."
    upload = loop.call(lambda: stack.openai.transcriptions[0])
    assert (upload.filename or "").endswith((".webm", ".ogg")), upload.filename
    assert _rms_of(upload, tmp_path) > 300, "the fake microphone's speech reached the server"

    talk = page.button("Talk")  # press to start, press again to stop
    talk.click()
    page.wait(lambda: talk.get_attribute("aria-pressed") == "true")
    time.sleep(1.0)
    talk.click()
    page.wait(lambda: talk.get_attribute("aria-pressed") == "false")
    second = page.wait_turn(before + 1)
    assert page.wait_done(second) == "completed"
    assert second.get_attribute("data-conversation") == turn.get_attribute("data-conversation")
    page.screenshot("voice-command")
