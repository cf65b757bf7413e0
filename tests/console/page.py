"""A page object for the console: find controls by their accessible names, wait for states."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

T = TypeVar("T")
SCREENSHOTS = Path(__file__).parent / "screenshots"


class ConsolePage:
    def __init__(self, driver: Any, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url

    # -- navigation and waiting --

    def open(self, token: str | None = None) -> None:
        """Load the console afresh, as a new tab would (a new document, nobody signed in: a
        link never replaces a session without asking)."""
        self.driver.get(f"{self.base_url}/static/icon.svg")  # same origin, no console script
        self.driver.execute_script("sessionStorage.removeItem('voice-mcp-token')")
        self.driver.get(f"{self.base_url}/#token={token}" if token else f"{self.base_url}/")
        self.wait(lambda: self.driver.execute_script(
            "return document.documentElement.dataset.ready"))

    def wait(self, condition: Callable[[], T], timeout: float = 30, message: str = "") -> T:
        def check(_driver: Any) -> T | Literal[False]:
            try:
                return condition()
            except (StaleElementReferenceException, AssertionError):
                return False
        return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(check, message)

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(exist_ok=True)
        self.driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))

    # -- controls by accessible name (docs/console.md) --

    def who(self) -> str:
        return str(self.driver.find_element(By.ID, "who").text)

    def kept_token(self) -> str:
        return str(self.driver.execute_script("return sessionStorage.getItem('voice-mcp-token')"))

    def button(self, name: str, within: WebElement | None = None) -> WebElement:
        """The (last) visible button with this accessible name; waits while the page renders."""
        root = within or self.driver

        def find() -> WebElement | None:
            found = [b for b in root.find_elements(By.CSS_SELECTOR, "button")
                     if b.is_displayed() and b.accessible_name == name]
            return found[-1] if found else None

        button = self.wait(find, 10, f"no visible button named {name!r}")
        assert button is not None
        return button

    def command_field(self) -> WebElement:
        field = self.driver.find_element(By.ID, "query")
        assert field.accessible_name == "Command"
        return field

    def send_text(self, text: str) -> None:
        field = self.command_field()
        field.clear()
        field.send_keys(text)
        self.button("Send").click()

    # -- the conversation --

    def log(self) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, "[role=log]")

    def turns(self) -> list[WebElement]:
        return self.log().find_elements(By.CSS_SELECTOR, "article.turn")

    def turn_count(self) -> int:
        return len(self.turns())

    def wait_turn(self, index: int, timeout: float = 30) -> WebElement:
        def nth() -> WebElement | None:
            turns = self.turns()
            return turns[index] if len(turns) > index else None

        found = self.wait(nth, timeout, f"turn {index} never appeared")
        assert found is not None
        return found

    def wait_done(self, turn: WebElement, timeout: float = 30) -> str:
        """The done status shown on a turn (its data-status)."""
        def badge_of() -> WebElement | None:
            found = turn.find_elements(By.CSS_SELECTOR, ".status")
            return found[0] if found else None

        badge = self.wait(badge_of, timeout, "the command never finished")
        assert badge is not None
        return str(badge.get_attribute("data-status"))

    @staticmethod
    def stage_types(turn: WebElement) -> list[str]:
        return [li.get_attribute("data-type") or "" for li in
                turn.find_elements(By.CSS_SELECTOR, ".stages li")]

    @staticmethod
    def stage_texts(turn: WebElement) -> list[str]:
        return [li.text for li in turn.find_elements(By.CSS_SELECTOR, ".stages li")]

    @staticmethod
    def said(turn: WebElement) -> str:
        return str(turn.find_element(By.CSS_SELECTOR, ".said").get_attribute("textContent"))

    @staticmethod
    def answer(turn: WebElement) -> str:
        return str(turn.find_element(By.CSS_SELECTOR, ".answer").get_attribute("textContent"))

    def browser_errors(self) -> list[str]:
        """Script errors and CSP violations the page logged since the last call (failed
        requests are left out: tests cut connections and refuse tokens on purpose)."""
        return [e["message"] for e in self.driver.get_log("browser")
                if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]]
