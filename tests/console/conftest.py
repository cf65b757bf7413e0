"""Browser fixtures: one headless Chromium per module, driving the real console.

Chromium's fake microphone plays a sentence spoken by espeak-ng, so push-to-talk records
real audio. Screenshots go to tests/console/screenshots/ (git-ignored) for a person to look.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.console.harness import (
    CHROMEDRIVER,
    CHROMIUM,
    BackgroundLoop,
    Stack,
    browser_missing,
    fake_mic_wav,
    must_run_here,
    start_stack,
)
from voice_mcp.services.store import EmbeddedRedis

SCREENSHOTS = Path(__file__).parent / "screenshots"
SPOKEN = "list my notes"


def _require_browser() -> None:
    reason = browser_missing()
    if reason is None:
        return
    if must_run_here():
        pytest.fail(f"{reason}; `make test` installs them (scripts/install-system-deps.sh --test)")
    pytest.skip(f"{reason}; not root, so `make test` could not install them")


@pytest.fixture(scope="module")
def stack_settings() -> dict[str, Any]:
    """Settings a test module changes in its stack (none by default)."""
    return {}


@pytest.fixture(scope="module")
def spoken() -> str:
    """What the fake microphone says."""
    return SPOKEN


@pytest.fixture(scope="module")
def servers(redis_server: EmbeddedRedis,
            stack_settings: dict[str, Any]) -> Iterator[tuple[BackgroundLoop, Stack]]:
    """The app, fake LLM, MCP and OAuth servers on a background loop, for one test module."""
    _require_browser()
    loop = BackgroundLoop()
    try:
        stack = loop.run(start_stack(redis_server.url, **stack_settings))
        try:
            yield loop, stack
        finally:
            loop.run(stack.exit.aclose())
    finally:
        loop.close()


@pytest.fixture(scope="module")
def spoken_wav(tmp_path_factory: pytest.TempPathFactory, spoken: str) -> Path:
    """`spoken` said by espeak-ng, 48 kHz 16-bit mono with a little silence around it."""
    return fake_mic_wav(tmp_path_factory.mktemp("mic"), spoken, 0.2, 0.6)


@pytest.fixture(scope="module")
def browser(servers: tuple[BackgroundLoop, Stack], spoken_wav: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,800", "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={spoken_wav}",
                "--autoplay-policy=no-user-gesture-required", "--mute-audio",
                "--disable-features=Translate,MediaRouter", "--no-first-run"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_script_timeout(30)
    SCREENSHOTS.mkdir(exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()
