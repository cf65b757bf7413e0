"""Push-to-talk over the listen socket in a real headless Chromium (docs/console.md): the
AudioWorklet's 16 kHz PCM streams while Talk is held, the partial text shows, the command's
events render as an upload's; a refused socket gives way to the upload of the same speech.

The server is what a fresh install runs: offline speech and the time templates (no LLM call,
no transcription server), so the fake microphone's "what time is it in Tokyo" is recognised
by pocketsphinx from the browser's own frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from tests.console.harness import BackgroundLoop, Stack, fake_mic_wav
from tests.console.page import ConsolePage
from voice_mcp.web.listen_limits import SOCKETS_PER_USER

pytestmark = pytest.mark.timeout(180)
TIME_INTENTS = Path(__file__).resolve().parents[2] / "config" / "intents"
HOLD_S = 2.8  # the sentence (0.3 s of silence, 1.7 s of speech) and some silence after it
LISTEN = ("GET", "/api/voice/listen", "101")
UPLOAD = ("POST", "/api/voice/audio/stream", "200")


@pytest.fixture(scope="module")
def spoken() -> str:
    return "what time is it in Tokyo"


@pytest.fixture(scope="module")
def spoken_wav(tmp_path_factory: pytest.TempPathFactory, spoken: str) -> Path:
    """The sentence with 2 s of silence after it: Chromium's fake microphone plays its file in
    a loop, and a hold must end before the sentence comes round again."""
    return fake_mic_wav(tmp_path_factory.mktemp("mic"), spoken, 0.3, 2.0)


@pytest.fixture(scope="module")
def stack_settings() -> dict[str, Any]:
    """A fresh install's speech: offline recognition and the shipped time templates."""
    return {"stt": "local", "local_intents": "prefer", "intents_dir": TIME_INTENTS,
            "stt_timeout_s": 120}


@pytest.fixture(scope="module")
def page(browser: Any, servers: tuple[BackgroundLoop, Stack]) -> ConsolePage:
    return ConsolePage(browser, servers[1].url)


@pytest.fixture
def world(servers: tuple[BackgroundLoop, Stack],
          page: ConsolePage) -> tuple[BackgroundLoop, Stack]:
    page.driver.get_log("browser")
    return servers


async def _requests(stack: Stack) -> dict[tuple[str, str, str], float]:
    """The server's request counter by (method, route, status), from /metrics."""
    async with aiohttp.ClientSession() as http, http.get(f"{stack.url}/metrics") as resp:
        assert resp.status == 200
        body = await resp.text()
    found: dict[tuple[str, str, str], float] = {}
    pattern = re.compile(r'^voice_mcp_http_requests_total\{method="([^"]+)",route="([^"]+)",'
                         r'status="([^"]+)"\} (\S+)$', re.M)
    for method, route, status, value in pattern.findall(body):
        found[(method, route, status)] = float(value)
    return found


def _hold_talk(page: ConsolePage, screenshot: str) -> None:
    talk = page.button("Talk")
    ActionChains(page.driver).click_and_hold(talk).perform()
    page.wait(lambda: talk.get_attribute("aria-pressed") == "true",
              message="recording never started")
    time.sleep(HOLD_S)
    page.screenshot(screenshot)  # still held: the partial text, if it came in time
    ActionChains(page.driver).release(talk).perform()
    page.wait(lambda: talk.get_attribute("aria-pressed") == "false")


def test_held_talk_streams_over_the_socket_with_partial_text(page: ConsolePage, world) -> None:
    loop, stack = world
    page.open(stack.token("streamer"))
    before_counts = loop.run(_requests(stack))
    before = page.turn_count()
    _hold_talk(page, "listen-hearing")
    turn = page.wait_turn(before)
    assert page.wait_done(turn, 120) == "completed"
    assert int(turn.get_attribute("data-partials") or 0) >= 1, "no partial text was shown"
    assert turn.get_attribute("data-via") == "listen"
    assert page.said(turn) == "You saidwhat time is it in tokyo"
    assert page.stage_types(turn)[:2] == ["transcribing", "transcribed"]
    assert page.answer(turn).startswith("It's ") and page.answer(turn).endswith(" in Tokyo."), \
        page.answer(turn)
    page.screenshot("listen-socket")

    def counted() -> dict[tuple[str, str, str], float]:
        counts = loop.run(_requests(stack))  # the socket is counted once it has closed
        assert counts.get(LISTEN, 0) == before_counts.get(LISTEN, 0) + 1, counts
        return counts

    try:
        after = page.wait(counted, 10)
    except TimeoutException:
        pytest.fail(f"the server never counted the socket: {loop.run(_requests(stack))}")
    assert after.get(UPLOAD, 0) == before_counts.get(UPLOAD, 0), "nothing was uploaded"
    assert page.browser_errors() == []  # a CSP violation (worklet, ws:) would be one


@contextlib.asynccontextmanager
async def _sockets_held(stack: Stack, user: str) -> AsyncIterator[None]:
    """Every listen socket `user` may hold, open and started, so the next one is refused."""
    async with aiohttp.ClientSession() as http:
        url = stack.url.replace("http", "ws", 1) + "/api/voice/listen"
        sockets = [await http.ws_connect(url) for _ in range(SOCKETS_PER_USER)]
        for ws in sockets:
            await ws.send_json({"type": "start", "token": stack.token(user),
                                "sampleRate": 16000, "mode": "push-to-talk"})
        await asyncio.sleep(0.3)  # started and counted
        try:
            yield
        finally:
            for ws in sockets:
                await ws.close()


@pytest.mark.parametrize("refusal", ["server-4429", "no-upgrade-proxy"])
def test_a_refused_socket_falls_back_to_the_upload(page: ConsolePage, world,
                                                   refusal: str) -> None:
    """The server closes the socket before a word (the user's sockets are all held open:
    4429), or a proxy answers the handshake 400: the same speech goes as an upload."""
    loop, stack = world
    user = f"refused-{refusal}"
    page.open(stack.token(user))
    held = _sockets_held(stack, user)
    if refusal == "server-4429":
        loop.run(held.__aenter__())
    else:
        stack.proxy.refuse_websockets = True
    try:
        before_counts = loop.run(_requests(stack))
        before = page.turn_count()
        _hold_talk(page, f"listen-{refusal}-recording")
        turn = page.wait_turn(before)
        assert page.wait_done(turn, 120) == "completed"
    finally:
        if refusal == "server-4429":
            loop.run(held.__aexit__(None, None, None))
        stack.proxy.refuse_websockets = False
    assert turn.get_attribute("data-via") == "upload"
    assert "in Tokyo" in page.answer(turn), page.answer(turn)
    counts = loop.run(_requests(stack))
    assert counts.get(UPLOAD, 0) == before_counts.get(UPLOAD, 0) + 1, counts
    assert turn.find_elements(By.CSS_SELECTOR, ".notice.error") == []
    errors = page.browser_errors()
    if refusal == "no-upgrade-proxy":  # the app never saw a socket; Chromium logs the 400
        assert counts.get(LISTEN, 0) == before_counts.get(LISTEN, 0), counts
        assert all("WebSocket" in error for error in errors), errors
    else:
        assert errors == []
    page.screenshot(f"listen-{refusal}")
