"""Allow `python -m voice_mcp`, the same as the `voice-mcp` command."""

from voice_mcp.runtime.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
