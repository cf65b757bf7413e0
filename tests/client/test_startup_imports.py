"""`voice-mcp ask` sends its command before loading anything heavy (docs/performance.md,
"Client start-up"): the modules on that path import no aiohttp, Rich or server packages."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("aiohttp", "rich", "pydantic", "pydantic_settings", "openai", "mcp", "redis",
         "voice_mcp.services", "voice_mcp.web")
PROBE = """
import json, sys
import voice_mcp.__main__, voice_mcp.runtime.cli, voice_mcp.client.ask, voice_mcp.client.http
print(json.dumps(sorted(sys.modules)))
"""


def test_the_path_to_the_first_request_loads_nothing_heavy() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    loaded = json.loads(out)
    heavy = [name for name in loaded if any(name == h or name.startswith(f"{h}.") for h in HEAVY)]
    assert heavy == []
    assert "h11" in loaded  # the probe sees the client's own HTTP stack
