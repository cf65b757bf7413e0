"""One ToolIndex per tool-set version, reused until a tool list changes."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence

from voice_mcp.services.mcp.models import ToolInfo
from voice_mcp.services.tool_index.documents import content_hash
from voice_mcp.services.tool_index.index import ToolIndex, tool_set_version

_Identity = tuple[int, ...]


class ToolIndexCache:
    """Indexes found by the identity of the ToolInfo objects, else by the tool-set version.

    The MCP tool cache hands out the same frozen objects until a list changes, so the
    identity key costs nothing per request. Objects re-read from Redis with the same content
    have the same version (a hash of the content) and find the index already built; only a
    changed list (`tools/list_changed`, a reconnect with other tools) builds a new one.
    An identity entry holds its tool objects, so their ids cannot be reused while it lives.
    """

    def __init__(self, max_entries: int = 64) -> None:
        self._max = max_entries
        self._by_identity: OrderedDict[_Identity, tuple[tuple[ToolInfo, ...], ToolIndex]] = (
            OrderedDict())
        self._by_version: OrderedDict[str, ToolIndex] = OrderedDict()
        self._lock = threading.Lock()  # builds may run in worker threads
        self.builds = 0  # indexes built, for tests and metrics

    def peek(self, tools: Sequence[ToolInfo]) -> ToolIndex | None:
        """The index of exactly these tool objects if it is known, without any hashing."""
        key = tuple(map(id, tools))
        with self._lock:
            entry = self._by_identity.get(key)
            if entry is None:
                return None
            self._by_identity.move_to_end(key)
            return entry[1]

    def get(self, tools: Sequence[ToolInfo],
            service_titles: Mapping[str, str] | None = None) -> ToolIndex:
        """The index of these tools: known, or of the same version, or built now."""
        index = self.peek(tools)
        if index is not None:
            return index
        hashes = [content_hash(t) for t in tools]
        version = tool_set_version(hashes)
        with self._lock:
            index = self._by_version.get(version)
        if index is None:
            index = ToolIndex(tools, service_titles, hashes=hashes)
            with self._lock:
                self.builds += 1
                self._by_version[version] = index
                if len(self._by_version) > self._max:
                    self._by_version.popitem(last=False)
        with self._lock:
            self._by_identity[tuple(map(id, tools))] = (tuple(tools), index)
            if len(self._by_identity) > self._max:
                self._by_identity.popitem(last=False)
        return index
