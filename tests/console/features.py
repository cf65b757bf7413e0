"""What the server under test offers, found by asking it over HTTP (streamed deltas, resumable
commands, speech out, continueConversation), so a console test that needs one says which is
missing instead of timing out in the browser."""

from __future__ import annotations

import json
from dataclasses import dataclass

import aiohttp

from tests.console.harness import Stack


@dataclass(frozen=True)
class Features:
    deltas: bool
    command_ids: bool
    continue_field: bool
    speech: bool


async def probe(stack: Stack) -> Features:
    """Run one scripted command over HTTP and ask for speech; see which fields come back."""
    stack.openai.script("Probe answer. Second sentence.")
    headers = {"Authorization": f"Bearer {stack.token('probe')}"}
    kinds: list[str] = []
    datas: list[dict[str, object]] = []
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(f"{stack.url}/api/voice/llm/stream", json={"query": "probe"}) as resp:
            assert resp.status == 200, await resp.text()
            body = (await resp.read()).decode()
        for block in body.replace("\r\n", "\n").split("\n\n"):
            fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line
                          and not line.startswith(":"))
            if "event" in fields and "data" in fields:
                kinds.append(fields["event"])
                datas.append(json.loads(fields["data"]))
        async with http.post(f"{stack.url}/api/voice/speech", json={"text": "hi"}) as resp:
            speech = resp.status == 200 and resp.content_type.startswith("audio/")
    done = datas[-1] if datas else {}
    return Features(deltas="delta" in kinds, command_ids=bool(datas) and "commandId" in datas[0],
                    continue_field="continueConversation" in done, speech=speech)
