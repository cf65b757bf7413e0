"""The web console in a real headless Chromium against the real server (docs/console.md).

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
def world(servers: tuple[BackgroundLoop, Stack],
          page: ConsolePage) -> Iterator[tuple[BackgroundLoop, Stack]]:
    """A fresh script for each test, and no browser error (a CSP violation is one) left over."""
    loop, stack = servers
    def fresh() -> None:
        stack.openai.reset()
        stack.openai.responder = None

    loop.call(fresh)
    page.driver.get_log("browser")
    yield servers
    assert page.browser_errors() == []


def script(loop: BackgroundLoop, stack: Stack, *turns: Any) -> None:
    loop.call(lambda: stack.openai.script(*turns))


def test_sign_in_link_scrubs_the_token_and_names_every_control(page: ConsolePage, world) -> None:
    _, stack = world
    page.open(stack.token("alice"))
    assert "token" not in page.driver.current_url
    kept = page.driver.execute_script("return sessionStorage.getItem('voice-mcp-token')")
    assert isinstance(kept, str) and kept.count(".") == 2, "the token is kept for this tab"
    assert page.driver.find_element(By.ID, "who").text == "Signed in as alice"
    assert page.command_field().is_displayed()
    for name in ("Send", "Talk", "New conversation"):
        assert page.button(name).is_displayed()
    assert page.button("Talk").get_attribute("aria-pressed") == "false"
    assert page.log().get_attribute("role") == "log"
    service = page.wait(lambda: page.driver.find_element(By.CSS_SELECTOR,
                                                         "li[data-service=secure_notes]"))
    assert "Not connected" in service.text
    assert page.button("Connect", within=service).is_displayed()
    example = page.wait(lambda: page.button("List my notes"))
    assert example.is_enabled()
    page.screenshot("signed-in")


def test_a_same_origin_page_can_hand_over_a_token(page: ConsolePage, world) -> None:
    _, stack = world
    page.open()
    page.driver.execute_script("sessionStorage.clear()")
    page.open()
    assert page.driver.find_element(By.ID, "signin").is_displayed()
    page.driver.execute_script(
        "window.postMessage({type: 'voice-mcp:token', token: arguments[0]}, location.origin)",
        stack.token("handed"))
    page.wait(lambda: page.driver.find_element(By.ID, "who").text == "Signed in as handed")
    assert not page.driver.find_element(By.ID, "signin").is_displayed()


def test_a_sign_in_link_never_silently_replaces_a_session(page: ConsolePage, world) -> None:
    """Login CSRF: someone else's link in a signed-in tab only offers a switch."""
    _, stack = world
    victim = stack.token("victim")
    page.open(victim)
    page.driver.get(f"{page.base_url}/#token={stack.token('intruder')}")  # same document
    prompt = page.wait(lambda: page.driver.find_element(By.ID, "switch").is_displayed()
                       and page.driver.find_element(By.ID, "switch"), 10,
                       "a link for another account was taken without asking")
    assert "intruder" in prompt.text and "victim" in prompt.text
    assert page.who() == "Signed in as victim" and page.kept_token() == victim
    assert "token" not in page.driver.current_url, "the offered token is scrubbed at once"
    page.button("Stay signed in").click()
    assert not prompt.is_displayed()
    assert page.who() == "Signed in as victim" and page.kept_token() == victim

    other = stack.token("chosen")  # a new document this time; the user agrees
    page.driver.get("about:blank")
    page.driver.get(f"{page.base_url}/#token={other}")
    page.wait(lambda: page.driver.find_element(By.ID, "switch").is_displayed(), 10)
    assert page.who() == "Signed in as victim"
    page.button("Switch account").click()
    page.wait(lambda: page.who() == "Signed in as chosen")
    assert page.kept_token() == other


SSE_PARSE = """
const done = arguments[arguments.length - 1];
(async () => {
  const {readEvents} = await import("/static/api.js");
  const bytes = new TextEncoder().encode(arguments[0]);
  const body = new ReadableStream({start(c) {
    for (const b of bytes) c.enqueue(new Uint8Array([b]));
    c.close();
  }});
  const out = [];
  for await (const r of readEvents(new Response(body))) out.push(r);
  return out;
})().then(done, (e) => done(String(e)));
"""


def test_event_parser_survives_byte_by_byte_delivery(page: ConsolePage, world) -> None:
    """CRLF pairs and multi-byte characters split across reads, comments, multi-line data."""
    _, stack = world
    page.open(stack.token("parser"))
    wire = ('id: 1\r\nevent: progress\r\ndata: {"t":"é ✓ 東京"}\r\n\r\n: ping\r\n\r\n'
            'id: 2\nevent: delta\ndata: {"a":\ndata: 1}\n\n'
            'id: 3\revent: done\rdata: {"ok":true}\r\r')
    events = page.driver.execute_async_script(SSE_PARSE, wire)
    assert events == [
        {"id": "1", "event": "progress", "data": '{"t":"é ✓ 東京"}'},
        {"id": "2", "event": "delta", "data": '{"a":\n1}'},
        {"id": "3", "event": "done", "data": '{"ok":true}'},
    ]


FOLLOW = """
const done = arguments[arguments.length - 1];
(async () => {
  const {followCommand} = await import("/static/api.js");
  const enc = new TextEncoder();
  let sent = false;
  const first = new ReadableStream({pull(c) {
    if (sent) { c.error(new TypeError("network error")); return; }
    sent = true;
    c.enqueue(enc.encode(
      'id: 1\\nevent: progress\\ndata: {"type":"analyzing","commandId":"c-1"}\\n\\n' +
      'id: 2\\nevent: delta\\ndata: {"text":"Hel"}\\n\\n'));
  }});
  const resumed = 'id: 2\\nevent: delta\\ndata: {"text":"Hel"}\\n\\n' +
                  'id: 3\\nevent: delta\\ndata: {"text":"lo"}\\n\\n' +
                  'id: 4\\nevent: done\\ndata: {"status":"completed"}\\n\\n';
  const asked = [];
  const realFetch = window.fetch;
  window.fetch = async (url, init) => {
    if (!String(url).startsWith("/api/voice/commands/")) return realFetch(url, init);
    const headers = new Headers(init.headers);
    asked.push([String(url), headers.get("Last-Event-ID"), headers.get("Authorization")]);
    return new Response(resumed, {headers: {"Content-Type": "text/event-stream"}});
  };
  const log = [];
  try {
    await followCommand(async () => new Response(first), {
      event: (kind, data) => log.push([kind, data]),
      reconnecting: (attempt) => log.push(["reconnecting", attempt]),
      reconnected: (lastId) => log.push(["reconnected", lastId]),
      lost: (message) => log.push(["lost", message]),
    });
  } finally { window.fetch = realFetch; }
  return {log, asked};
})().then(done, (e) => done(String(e)));
"""


def test_a_dropped_stream_is_resumed_from_the_last_event_id(page: ConsolePage, world) -> None:
    """The client half of resuming, with the network faked in the page (the whole path
    against the server is test_reconnects_a_cut_stream_with_last_event_id)."""
    _, stack = world
    page.open(stack.token("resumer"))
    result = page.driver.execute_async_script(FOLLOW)
    [(url, last_id, authorization)] = result["asked"]
    assert (url, last_id) == ("/api/voice/commands/c-1/events", "2")
    assert authorization.startswith("Bearer ") and authorization.count(".") == 2
    assert result["log"] == [
        ["progress", {"type": "analyzing", "commandId": "c-1"}],
        ["delta", {"text": "Hel"}],
        ["reconnecting", 1],
        ["reconnected", "2"],
        ["delta", {"text": "lo"}],
        ["done", {"status": "completed"}],
    ], "event 2 is not delivered twice"


def test_typed_command_stages_answer_busy_state_and_timings(page: ConsolePage, world) -> None:
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
    badge = turn.find_element(By.CSS_SELECTOR, ".status")
    assert badge.text.startswith("Done")
    rows = turn.find_elements(By.CSS_SELECTOR, ".waterfall .track")
    assert len(rows) >= 3, "a waterfall row per stage and tool"
    waterfall = turn.find_element(By.CSS_SELECTOR, ".waterfall").text
    assert "notes.list_notes" in waterfall
    assert "LLM round 1" in waterfall and "LLM round 2" in waterfall, waterfall
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
    page.wait(lambda: talk.get_attribute("aria-pressed") == "true",
              message="recording never started")
    level = page.driver.find_element(By.ID, "level")
    page.wait(lambda: int(level.get_attribute("aria-valuenow") or 0) > 0,
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
    planning = Gate(loop, tool_turn(call("notes__list_notes")))
    script(loop, stack, planning, "Your notebook is empty.",
           tool_turn(call("notes__list_notes")), "Still empty.")
    before = page.turn_count()
    _hold_space(page, 2.5)
    turn = page.wait_turn(before)
    planning.wait_arrived()
    page.wait(lambda: page.said(turn) == f"You said{SPOKEN}",
              message="what was heard shows while the command still runs")
    assert turn.find_elements(By.CSS_SELECTOR, ".status") == []
    planning.open()
    assert page.wait_done(turn) == "completed"
    assert page.said(turn) == f"You said{SPOKEN}"
    types = page.stage_types(turn)
    assert types[:2] == ["transcribing", "transcribed"], types
    assert page.answer(turn) == "Your notebook is empty."
    # It went over the listen socket: the worklet's 16 kHz PCM, sent on as one WAV.
    assert turn.get_attribute("data-via") == "listen"
    upload = loop.call(lambda: stack.openai.transcriptions[0])
    assert upload.filename == "audio.wav" and upload.file[:4] == b"RIFF", upload.filename
    assert int.from_bytes(upload.file[24:28], "little") == 16000  # the WAV's sample rate
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


def test_talk_by_keyboard_and_by_holding_the_pointer(page: ConsolePage, world) -> None:
    loop, stack = world
    page.open(stack.token("holder"))
    talk = page.button("Talk")
    before = page.turn_count()
    talk.send_keys(Keys.ENTER)  # a keyboard press toggles
    page.wait(lambda: talk.get_attribute("aria-pressed") == "true")
    ActionChains(page.driver).send_keys(Keys.ESCAPE).perform()  # Escape throws it away
    page.wait(lambda: talk.get_attribute("aria-pressed") == "false")
    assert page.turn_count() == before and loop.call(lambda: stack.openai.transcription_count) == 0

    loop.call(lambda: stack.openai.script_transcription(SPOKEN))
    script(loop, stack, tool_turn(call("notes__list_notes")), "Nothing there.")
    hold = ActionChains(page.driver).click_and_hold(talk)
    hold.perform()
    page.wait(lambda: talk.get_attribute("aria-pressed") == "true")
    time.sleep(1.5)  # the length of the recording
    ActionChains(page.driver).release(talk).perform()
    page.wait(lambda: talk.get_attribute("aria-pressed") == "false",
              message="releasing a held Talk button stops recording")
    turn = page.wait_turn(before)
    assert page.wait_done(turn) == "completed"
    assert page.said(turn) == f"You said{SPOKEN}"


EMAIL = {"to": "bob@example.com", "subject": "Lunch", "body": "<b>Noon</b> at the usual place"}


def _ask_to_email(page: ConsolePage, loop: BackgroundLoop, stack: Stack) -> Any:
    script(loop, stack, tool_turn(call("notes__send_email", EMAIL)))
    before = page.turn_count()
    page.send_text("email bob about lunch")
    turn = page.wait_turn(before)
    assert page.wait_done(turn) == "confirmation_required"
    return turn


def test_approval_card_shows_what_will_run_then_approve_and_decline(page: ConsolePage,
                                                                    world) -> None:
    loop, stack = world
    page.open(stack.token("approver"))
    loop.call(lambda: setattr(stack.openai, "responder", "The email is sent."))
    turn = _ask_to_email(page, loop, stack)
    badge = turn.find_element(By.CSS_SELECTOR, ".status")
    assert "completed" not in (badge.get_attribute("class") or "")
    assert badge.text.startswith("Waiting for your approval")
    cards = turn.find_elements(By.CSS_SELECTOR, ".card")
    assert len(cards) == 1, "one card, even though the stage and the done payload both name it"
    card = cards[0]
    assert "Run send_email" in card.text and "on Notes" in card.text
    args = dict(zip([dt.text for dt in card.find_elements(By.TAG_NAME, "dt")],
                    [dd.text for dd in card.find_elements(By.TAG_NAME, "dd")], strict=True))
    assert args == EMAIL, "arguments shown as text, markup and all"
    assert card.find_elements(By.CSS_SELECTOR, "b") == []
    assert card.find_element(By.CSS_SELECTOR, ".risk").text.lower() == "high risk"
    assert card.find_element(By.CSS_SELECTOR, ".why").text.lower().removeprefix("high risk").strip()
    countdown = card.find_element(By.CSS_SELECTOR, ".countdown").text
    assert countdown.startswith("Expires in 4:") or countdown == "Expires in 5:00", countdown
    page.screenshot("approval")
    before = page.turn_count()
    page.button("Approve", within=card).click()
    approved = page.wait_turn(before)
    assert page.wait_done(approved) == "completed"
    assert page.said(approved).endswith("Approve")
    assert "executed" in page.stage_types(approved)
    assert not page.button("Approve", within=card).is_enabled()

    turn = _ask_to_email(page, loop, stack)
    card = turn.find_element(By.CSS_SELECTOR, ".card")
    before = page.turn_count()
    page.button("Decline", within=card).click()
    declined = page.wait_turn(before)
    status = page.wait_done(declined)
    assert status != "completed" or "executed" not in page.stage_types(declined)
    assert "executed" not in page.stage_types(declined), "a declined action never runs"
    assert card.find_element(By.TAG_NAME, "h3").text == "Declined"
    page.screenshot("declined")


def test_an_approval_never_takes_focus_so_space_cannot_approve(page: ConsolePage,
                                                              world) -> None:
    """Space is the talk key: with the card shown it records, and never answers the card; on
    another button it is that button's own press, not Talk."""
    loop, stack = world
    page.open(stack.token("spacebar"))
    script(loop, stack, tool_turn(call("notes__send_email", EMAIL)))
    page.driver.find_element(By.TAG_NAME, "body").click()
    before = page.turn_count()
    page.driver.execute_script("window.focusedBefore = document.activeElement;"
                               "document.getElementById('query').value = arguments[0];"
                               "document.getElementById('ask').requestSubmit()", "email bob")
    turn = page.wait_turn(before)
    assert page.wait_done(turn) == "confirmation_required"
    card = turn.find_element(By.CSS_SELECTOR, ".card")
    assert page.driver.execute_script("return document.activeElement === window.focusedBefore"), \
        "the card left the focus where it was"
    talk = page.button("Talk")
    ActionChains(page.driver).key_down(Keys.SPACE).perform()
    page.wait(lambda: talk.get_attribute("aria-pressed") == "true", 10,
              "Space did not start recording")
    ActionChains(page.driver).send_keys(Keys.ESCAPE).key_up(Keys.SPACE).perform()
    page.wait(lambda: talk.get_attribute("aria-pressed") == "false")
    page.button("Decline", within=card).click()
    answered = page.wait_turn(before + 1)
    assert page.said(answered).endswith("Decline"), "the first answer to the card is Decline"
    page.wait_done(answered)

    mute = page.button("Mute speech")
    pressed = mute.get_attribute("aria-pressed")
    mute.send_keys(Keys.SPACE)  # a focused button: its own press, never Talk
    page.wait(lambda: mute.get_attribute("aria-pressed") != pressed)
    assert talk.get_attribute("aria-pressed") == "false"
    mute.send_keys(Keys.SPACE)
    page.wait(lambda: mute.get_attribute("aria-pressed") == pressed)


def test_connect_and_disconnect_an_oauth_service_through_its_consent_page(page: ConsolePage,
                                                                         world) -> None:
    _, stack = world
    page.open(stack.token("connector"))
    driver = page.driver
    row = lambda: driver.find_element(By.CSS_SELECTOR, "li[data-service=secure_notes]")  # noqa: E731
    page.wait(lambda: "Not connected" in row().text)
    console_tab = driver.current_window_handle
    page.button("Connect", within=row()).click()
    page.wait(lambda: len(driver.window_handles) == 2, message="no new tab for the provider")
    provider_tab = next(h for h in driver.window_handles if h != console_tab)
    driver.switch_to.window(provider_tab)
    allow = page.wait(lambda: driver.find_element(By.ID, "allow"))
    assert stack.oauth.issuer in driver.current_url
    user = driver.find_element(By.NAME, "test_user")
    user.clear()
    user.send_keys("connector")
    allow.click()
    # The provider's tab comes back to the console, which completes the grant by itself.
    page.wait(lambda: "connected" in driver.find_element(By.ID, "services-note").text.lower(),
              message="the console never completed the grant")
    page.screenshot("oauth-callback")
    assert driver.current_url.startswith(f"{stack.url}/") and "grant=" not in driver.current_url
    driver.close()
    driver.switch_to.window(console_tab)
    page.wait(lambda: "Connected" in row().text and page.button("Disconnect", within=row()),
              message="the console did not refresh when the person came back")
    page.screenshot("connected")
    page.button("Disconnect", within=row()).click()
    page.wait(lambda: "Not connected" in row().text and page.button("Connect", within=row()))


def test_expired_sign_in_says_how_to_get_a_new_link(page: ConsolePage, world) -> None:
    _, stack = world
    page.open(stack.token("late", ttl_s=-60))
    before = page.turn_count()
    page.send_text("what time is it")
    turn = page.wait_turn(before)
    alert = page.wait(lambda: turn.find_element(By.CSS_SELECTOR, ".notice.error"))
    assert "sign-in expired" in alert.text and "voice-mcp token" in alert.text
    assert turn.find_elements(By.CSS_SELECTOR, ".status.completed") == []
    assert page.driver.find_element(By.ID, "signin").is_displayed()
    page.screenshot("expired")


def test_new_conversation_and_clickable_examples(page: ConsolePage, world) -> None:
    loop, stack = world
    page.open(stack.token("examples"))
    script(loop, stack, tool_turn(call("notes__list_notes")), "Nothing yet.",
           tool_turn(call("notes__list_notes")), "Still nothing.")
    before = page.turn_count()
    page.wait(lambda: page.button("List my notes")).click()
    first = page.wait_turn(before)
    assert page.said(first) == "List my notes"
    assert page.wait_done(first) == "completed"
    old_conversation = first.get_attribute("data-conversation")
    page.button("New conversation").click()
    assert page.turn_count() == 0
    page.wait(lambda: page.button("List my notes").is_enabled())
    page.button("List my notes").click()
    second = page.wait_turn(0)
    assert page.wait_done(second) == "completed"
    assert second.get_attribute("data-conversation") not in (None, "", old_conversation)


def test_usable_at_390_px(page: ConsolePage, world) -> None:
    _, stack = world
    driver = page.driver
    driver.set_window_size(390, 844)
    try:
        page.open(stack.token("phone"))
        page.wait(lambda: page.button("List my notes"))
        width = driver.execute_script("return document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways ({width} px)"
        for name in ("Send", "Talk", "New conversation"):
            box = page.button(name).rect
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, name
        page.screenshot("mobile-390")
    finally:
        driver.set_window_size(1280, 800)


def _needs(available: bool, what: str) -> None:
    """The server under test must offer what the console relies on (probed over HTTP)."""
    assert available, f"the server does not offer {what}"


def _speech_requests(page: ConsolePage) -> int:
    return int(page.driver.execute_script(
        "return performance.getEntriesByType('resource')"
        ".filter(e => e.name.endsWith('/api/voice/speech')).length"))


def test_answer_streams_as_deltas_and_is_spoken_sentence_by_sentence(page: ConsolePage, world,
                                                                    features: Features) -> None:
    _needs(features.deltas, "streamed `delta` events")
    loop, stack = world
    page.open(stack.token("listener"))
    answer = "Your notebook is empty right now. Say add a note to start one!"
    script(loop, stack, tool_turn(call("notes__list_notes")), answer)
    before = page.turn_count()
    page.send_text("read my notes")
    turn = page.wait_turn(before)
    assert page.wait_done(turn) == "completed"
    assert page.answer(turn) == answer
    deltas = turn.find_element(By.CSS_SELECTOR, ".answer").get_attribute("data-deltas")
    assert int(deltas or 0) > 1
    _needs(features.speech, "POST /api/voice/speech")
    page.wait(lambda: _speech_requests(page) == 2, message="one speech request per sentence")
    mute = page.button("Mute speech")
    mute.click()
    assert mute.get_attribute("aria-pressed") == "true"
    script(loop, stack, tool_turn(call("notes__list_notes")), "Quiet now. Nothing is said.")
    page.send_text("read them again")
    assert page.wait_done(page.wait_turn(before + 1)) == "completed"
    assert _speech_requests(page) == 2, "muted: nothing more was sent to be spoken"
    mute.click()
    assert mute.get_attribute("aria-pressed") == "false"


def test_reconnects_a_cut_stream_with_last_event_id(page: ConsolePage, world,
                                                    features: Features) -> None:
    loop, stack = world
    page.open(stack.token("roamer"))
    answer = "You have no notes, and the network hiccup did not lose this answer."
    gate = Gate(loop, answer)
    script(loop, stack, tool_turn(call("notes__list_notes")), gate)
    before = page.turn_count()
    page.send_text("list my notes please")
    turn = page.wait_turn(before)
    gate.wait_arrived()
    assert loop.call(stack.proxy.cut) >= 1
    _needs(features.command_ids, "resumable commands (commandId in the first event)")
    page.wait(lambda: any("Connection lost" in t for t in page.stage_texts(turn)),
              message="the console never said the connection dropped")
    gate.open()
    assert page.wait_done(turn) == "completed"
    texts = page.stage_texts(turn)
    assert any(t.startswith("Reconnected: resuming after event") for t in texts), texts
    types = [t for t in page.stage_types(turn) if t]
    assert len(types) == len(set(types)), f"no stage twice after resuming: {types}"
    assert page.answer(turn) == answer
    page.screenshot("reconnected")


def test_microphone_reopens_when_the_answer_asks_something(page: ConsolePage, world,
                                                           features: Features) -> None:
    _needs(features.continue_field, "`continueConversation` in the done payload")
    loop, stack = world
    page.open(stack.token("asker"))
    script(loop, stack, "Which note should I read to you?")
    before = page.turn_count()
    page.send_text("read a note")
    turn = page.wait_turn(before)
    assert page.wait_done(turn) in ("completed", "clarification_needed")
    talk = page.button("Talk")
    page.wait(lambda: talk.get_attribute("aria-pressed") == "true",
              message="the microphone did not reopen")
    ActionChains(page.driver).send_keys(Keys.ESCAPE).perform()
    page.wait(lambda: talk.get_attribute("aria-pressed") == "false")


CONTRAST = """
const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
const lum = ([r, g, b]) => {
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
};
const background = (el) => {
  for (let e = el; e; e = e.parentElement) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
  }
  return [255, 255, 255];
};
const worst = [];
for (const el of document.querySelectorAll("body *")) {
  if (!el.checkVisibility() || el.closest("[hidden], button:disabled, .level")) continue;
  const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!own) continue;
  const style = getComputedStyle(el);
  if (parseFloat(style.opacity) < 1) continue;
  const a = lum(parse(style.color).slice(0, 3)), b = lum(background(el));
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  if (ratio < 4.5) worst.push(`${el.tagName}.${el.className}: ${ratio.toFixed(2)}`);
}
return worst;
"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast_meets_wcag_aa(page: ConsolePage, world, scheme: str) -> None:
    loop, stack = world
    driver = page.driver
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
        "features": [{"name": "prefers-color-scheme", "value": scheme}]})
    try:
        page.open(stack.token("contrast"))
        loop.call(lambda: stack.openai.script(tool_turn(call("notes__send_email", EMAIL))))
        page.send_text("email bob")
        page.wait_done(page.wait_turn(0))
        assert driver.execute_script(CONTRAST) == []
        page.screenshot(f"contrast-{scheme}")
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def test_a_service_question_is_a_card_answered_in_the_console(page: ConsolePage, world) -> None:
    loop, stack = world
    page.open(stack.token("pizza"))
    script(loop, stack, tool_turn(call("questions__order_pizza", {})), "Your pizza is ordered.")
    before = page.turn_count()
    page.send_text("order a pizza")
    turn = page.wait_turn(before)
    card = page.wait(lambda: next(iter(turn.find_elements(By.CSS_SELECTOR, ".card.question")),
                                  None), message="the question card")
    assert card is not None
    assert "Pizza Place asks: Which size?" in card.text
    options = [o.text for o in card.find_elements(By.TAG_NAME, "option")]
    assert options[-2:] == ["small", "large"]
    page.screenshot("question")
    loop.call(lambda: stack.openai.script_transcription("The large one."))
    talk = page.button("Talk")  # answers the open question by voice, in the same turn
    assert talk.is_enabled()
    talk.click()
    page.wait(lambda: talk.get_attribute("aria-pressed") == "true")
    time.sleep(1.0)  # speak for a second into the fake microphone
    talk.click()
    page.wait(lambda: card.find_element(By.TAG_NAME, "h3").text == "Answered")
    assert page.turn_count() == before + 1, "an answer is not a new command"
    second = page.wait(lambda: next(iter(
        [c for c in turn.find_elements(By.CSS_SELECTOR, ".card.question") if c != card]), None),
        message="the second question")
    assert second is not None
    assert "How many?" in second.text
    second.find_element(By.CSS_SELECTOR, "input[type=number]").send_keys("2")
    page.button("Accept", within=second).click()
    assert page.wait_done(turn) == "completed"
    assert "input_required" in page.stage_types(turn)
