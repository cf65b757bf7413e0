"""`voice-mcp ask` as a user runs it: a subprocess talking to the real app on a real port."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.audio import SpeechSamples
from tests.conftest import JWT_SECRET
from tests.fakes.openai_server import OpenAIServer, call, text
from tests.fixtures.mcp_servers import make_catalog
from tests.fixtures.openai_server import settings_for
from voice_mcp.services.catalog import ServiceConfig
from voice_mcp.services.stt.pcm import wav_to_pcm16
from voice_mcp.web.app import create_app

HEARD = "what time is it in Tokyo"
StartServer = Callable[..., Awaitable[str]]


@dataclass
class Outcome:
    code: int
    out: str
    err: str


@pytest.fixture
async def live_app(openai_server: OpenAIServer, redis_url: str) -> AsyncIterator[StartServer]:
    """Serve the whole app on a free loopback port; return its base URL."""
    runners: list[web.AppRunner] = []

    async def start(*services: ServiceConfig, **overrides: Any) -> str:
        values: dict[str, Any] = {"redis_url": redis_url, "jwt_secret": JWT_SECRET,
                                  "llm_max_retries": 0}
        settings = settings_for(openai_server, **values | overrides)
        runner = web.AppRunner(create_app(settings, catalog=make_catalog(*services)),
                               handler_cancellation=True, access_log=None)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


async def ask(tmp_path: Path, *args: str, stdin: bytes = b"", path_first: str | None = None
              ) -> Outcome:
    """Run `python -m voice_mcp ask ...` away from any .env, with a wide, colourless terminal;
    `path_first`: a folder searched first for programs (a stand-in recorder)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICE_MCP_")}
    env.update(COLUMNS="200", NO_COLOR="1", TERM="dumb")
    if path_first:
        env["PATH"] = os.pathsep.join([path_first, env.get("PATH", "")])
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_mcp", "ask", *args, cwd=tmp_path, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(60):
            out, err = await proc.communicate(stdin)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return Outcome(proc.returncode, out.decode(), err.decode())


async def test_text_query_prints_the_answer(live_app, time_service, openai_server, token_for,
                                            tmp_path) -> None:
    url = await live_app(time_service)
    openai_server.script(call("time__get_current_time", {"timezone": "Asia/Tokyo"}),
                         text("It is 9 pm in Tokyo."))
    result = await ask(tmp_path, "what time is it in Tokyo", "--url", url,
                       "--token", token_for("cli-user"), "--conversation", "cli-conv")
    assert result.code == 0, result.err
    assert "It is 9 pm in Tokyo." in result.out and "completed" in result.out
    assert "conversation: cli-conv" in result.out
    lines = result.out.splitlines()
    # The stages, then the answer's panel on a line of its own (through a pipe too).
    assert any(line.startswith("• ") for line in lines), result.out
    assert any(line.startswith("╭") and "completed" in line for line in lines), result.out
    assert openai_server.requests[0].last_user_text == HEARD
    assert "Asia/Tokyo" in openai_server.requests[1].tool_results[0]["content"]


async def test_timings_flag_prints_the_breakdown(live_app, time_service, openai_server,
                                                 token_for, tmp_path) -> None:
    url = await live_app(time_service)
    openai_server.script(call("time__get_current_time", {"timezone": "Asia/Tokyo"}),
                         text("It is 9 pm in Tokyo."))
    result = await ask(tmp_path, "what time is it in Tokyo", "--url", url,
                       "--token", token_for("cli-user"), "--timings")
    assert result.code == 0, result.err
    assert "Where the time went" in result.out
    rows = {line.split("│")[1].strip(): line for line in result.out.splitlines()
            if line.count("│") >= 3}
    for part in ("analyze", "discover", "plan", "llm1", "llm1FirstToken", "execute", "tool1",
                 "summarize", "llm2", "firstDelta", "total"):
        assert part in rows, result.out


async def test_audio_file_is_uploaded_and_transcribed(live_app, openai_server, token_for,
                                                      tmp_path,
                                                      speech_samples: SpeechSamples) -> None:
    url = await live_app()
    wav = speech_samples.path("wav")
    openai_server.script_transcription(HEARD).script(text("It is noon in Tokyo."))
    result = await ask(tmp_path, "--audio", str(wav), "--url", url, "--token", token_for())
    assert result.code == 0, result.err
    assert "It is noon in Tokyo." in result.out and f"heard: {HEARD}" in result.out
    [received] = openai_server.transcriptions
    assert received.file == wav.read_bytes()
    assert openai_server.requests[0].last_user_text == HEARD


async def test_missing_audio_file_is_one_line(tmp_path, token_for) -> None:
    result = await ask(tmp_path, "--audio", str(tmp_path / "nope.wav"), "--url",
                       "http://127.0.0.1:9", "--token", token_for())
    assert result.code == 2 and "nope.wav: no such file" in result.err
    assert len(result.err.strip().splitlines()) == 1


async def test_server_error_is_shown(live_app, openai_server, token_for, tmp_path) -> None:
    url = await live_app()
    (tmp_path / "notes.txt").write_text("not a recording")
    result = await ask(tmp_path, "--audio", str(tmp_path / "notes.txt"), "--url", url,
                       "--token", token_for())
    assert result.code == 2 and "unsupported_audio" in result.err
    assert openai_server.transcription_count == 0


@pytest.mark.parametrize(("flags", "stdin", "code", "shown"), [
    (["--yes"], b"", 0, "Deleted note 1."),
    ([], b"n\n", 1, "cancelled"),
], ids=["approved", "declined"])
async def test_confirmation(live_app, notes_stdio_service, openai_server, token_for, tmp_path,
                            flags, stdin, code, shown) -> None:
    url = await live_app(notes_stdio_service)
    openai_server.script(call("notes__delete_note", {"note_id": 1}), text("Deleted note 1."))
    result = await ask(tmp_path, "delete note 1", "--url", url, "--token", token_for(), *flags,
                       stdin=stdin)
    assert result.code == code, (result.out, result.err)
    assert "Approval needed" in result.out and "delete_note" in result.out
    [held] = [line for line in result.out.splitlines() if line.startswith("? ")]
    assert "delete_note" in held and "Approval needed" not in held, result.out
    assert "high" in result.out
    assert shown in result.out
    if flags:  # approved: the tool ran and its result went back to the LLM
        assert len(openai_server.requests) == 2
        assert "Deleted note 1" in openai_server.requests[1].tool_results[0]["content"]
    else:  # declined: nothing ran, and the LLM was not asked again
        assert "Run these actions?" in result.out and "Okay, I won't do that." in result.out
        assert len(openai_server.requests) == 1


async def test_server_supplied_text_is_shown_literally(live_app, notes_stdio_service,
                                                      openai_server, token_for, tmp_path) -> None:
    """10.4: Rich markup and escape sequences from the LLM or a server are shown, not obeyed."""
    url = await live_app(notes_stdio_service)
    hidden = "[conceal]bcc spy@evil.example[/conceal]"
    openai_server.script(
        call("notes__send_email", {"to": "boss@example.com", "subject": hidden,
                                   "body": "hi\x1b[2J"}),
        text("Sent. [conceal]secret[/conceal] \x1b[2J\x1b]0;pwned\x07 \u202eevil"))
    result = await ask(tmp_path, "email the boss", "--url", url, "--token", token_for(),
                       "--yes")
    assert result.code == 0, (result.out, result.err)
    assert hidden in result.out  # the approver sees the whole argument
    assert "[conceal]secret[/conceal]" in result.out
    assert "\x1b" not in result.out and "\x07" not in result.out and "\u202e" not in result.out
    assert "\\x1b[2J" in result.out and "\\x07" in result.out and "\\u202e" in result.out


async def test_ask_waits_for_a_server_that_is_starting(openai_server: OpenAIServer,
                                                       redis_url: str, token_for,
                                                       tmp_path) -> None:
    """10.12: `make run &` then `voice-mcp ask` at once: ask waits, says so, then succeeds."""
    from voice_mcp.services.store import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICE_MCP_")}
    env.update(COLUMNS="200", NO_COLOR="1", TERM="dumb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_mcp", "ask", "hello", "--url", f"http://127.0.0.1:{port}",
        "--token", token_for(), cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    runner: web.AppRunner | None = None
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(60):
            first = await proc.stdout.readline()
        assert b"waiting for the server" in first, first
        openai_server.script(text("Hello there."))
        settings = settings_for(openai_server, redis_url=redis_url, jwt_secret=JWT_SECRET)
        runner = web.AppRunner(create_app(settings, catalog=make_catalog()), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        async with asyncio.timeout(60):
            out, err = await proc.communicate()
        assert proc.returncode == 0, err
        assert "Hello there." in out.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        if runner is not None:
            await runner.cleanup()


async def test_listen_streams_a_recording_over_the_socket(live_app, openai_server, token_for,
                                                          tmp_path,
                                                          speech_samples: SpeechSamples) -> None:
    url = await live_app()
    wav = speech_samples.path("wav")
    openai_server.script_transcription(HEARD).script(text("It is noon in Tokyo."))
    result = await ask(tmp_path, "--listen", str(wav), "--url", url, "--token", token_for())
    assert result.code == 0, result.err
    assert "It is noon in Tokyo." in result.out and f"heard: {HEARD}" in result.out
    [received] = openai_server.transcriptions  # the utterance, sent whole as a WAV
    assert received.file[:4] == b"RIFF"


FAKE_ARECORD = """#!{python}
# ALSA's arecord as `voice-mcp ask --mic` runs it: raw PCM on stdout, in real time; here a
# recording of speech, then silence until it is stopped.
import signal, sys, time
open({argv!r}, "w").write(" ".join(sys.argv[1:]))
signal.signal(signal.SIGTERM, lambda *_: (open({stopped!r}, "w").close(), sys.exit(0)))
pcm = open({pcm!r}, "rb").read()
frame, out = 640, sys.stdout.buffer
for offset in range(0, len(pcm), frame):
    out.write(pcm[offset:offset + frame]); out.flush(); time.sleep(0.02)
for _ in range(3000):  # a minute of silence at most
    out.write(bytes(frame)); out.flush(); time.sleep(0.02)
"""


async def test_mic_records_until_the_server_hears_the_end_of_speech(
        live_app, openai_server, token_for, tmp_path, speech_samples: SpeechSamples) -> None:
    """`--mic`: the recorder's audio streams in `vad` mode; once the server has heard the user
    stop, recording stops and the command runs."""
    url = await live_app()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pcm_path = tmp_path / "speech.pcm"
    pcm_path.write_bytes(wav_to_pcm16(speech_samples.read("wav", HEARD)))
    argv, stopped = tmp_path / "argv", tmp_path / "stopped"
    recorder = bin_dir / "arecord"
    recorder.write_text(FAKE_ARECORD.format(python=sys.executable, argv=str(argv),
                                            stopped=str(stopped), pcm=str(pcm_path)))
    recorder.chmod(0o755)
    openai_server.script_transcription(HEARD).script(text("It is noon in Tokyo."))
    result = await ask(tmp_path, "--mic", "--url", url, "--token", token_for(),
                       path_first=str(bin_dir))
    assert result.code == 0, result.err
    assert "It is noon in Tokyo." in result.out and f"heard: {HEARD}" in result.out
    assert argv.read_text() == "-q -t raw -f S16_LE -r 16000 -c 1"
    assert stopped.exists()  # recording ended when the server heard the end of speech
    [received] = openai_server.transcriptions
    heard = wav_to_pcm16(received.file)
    assert len(pcm_path.read_bytes()) <= len(heard) < len(pcm_path.read_bytes()) + 32_000 * 5


async def test_mic_without_audio_is_one_clear_line(live_app, token_for, tmp_path) -> None:
    url = await live_app()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "arecord").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "arecord").chmod(0o755)
    result = await ask(tmp_path, "--mic", "--url", url, "--token", token_for(),
                       path_first=str(bin_dir))
    assert result.code == 2 and "Traceback" not in result.err
    assert result.err.strip().splitlines()[-1] == ("voice-mcp: --mic: arecord gives no audio; "
                                                   "is a microphone connected?")


async def test_a_service_question_is_answered_in_the_terminal(
        live_app, question_server, openai_server, token_for, tmp_path) -> None:
    url = await live_app(question_server.service(
        "questions", title="Pizza Place", risk={"order_pizza": "low"}))
    # "the medium one" is not mapped by the rules: the LLM reads it (a size there is not).
    openai_server.script(call("questions__order_pizza", {}), text('{"size": "medium"}'),
                         text("Your pizza is ordered."))
    result = await ask(tmp_path, "order a pizza", "--url", url, "--token", token_for(),
                       stdin=b"the medium one\nthe large one\n2\n")
    assert result.code == 0, (result.out, result.err)
    assert "Pizza Place asks: Which size?" in result.out and "small / large" in result.out
    assert "Missing or invalid: size" in result.out  # "medium" is no option: asked again
    assert "Pizza Place asks: How many?" in result.out
    assert "Your pizza is ordered." in result.out
    [sent] = openai_server.requests[2].tool_results
    assert sent["content"] == 'order: accept {"size": "large"}; accept {"count": 2}'


async def test_listen_answers_a_service_question_in_the_terminal(
        live_app, question_server, openai_server, token_for, tmp_path,
        speech_samples: SpeechSamples) -> None:
    url = await live_app(question_server.service(
        "questions", title="Pizza Place", risk={"order_pizza": "low"}))
    openai_server.script_transcription("order a pizza").script(
        call("questions__order_pizza", {}), text("Your pizza is ordered."))
    wav = speech_samples.path("wav", "order a pizza")
    result = await ask(tmp_path, "--listen", str(wav), "--url", url, "--token", token_for(),
                       stdin=b"large\n2\n")
    assert result.code == 0, (result.out, result.err)
    assert "heard: order a pizza" in result.out
    assert "Pizza Place asks: Which size?" in result.out and "How many?" in result.out
    assert "Your pizza is ordered." in result.out
    [sent] = openai_server.requests[1].tool_results
    assert sent["content"] == 'order: accept {"size": "large"}; accept {"count": 2}'
