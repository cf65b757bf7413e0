"""Which services the user can use now: asked once per run, however many stages need it."""

from __future__ import annotations

from voice_mcp.services.orchestrator.deps import ServiceDirectory


class UsableServices:
    """The directory's answer for one user, read on first use and kept for the run.

    Lazy, not up front: a command that ends before needing it (nothing heard) makes no read.
    """

    def __init__(self, directory: ServiceDirectory, user_id: str) -> None:
        self._directory = directory
        self._user_id = user_id
        self._answer: tuple[list[str], dict[str, str]] | None = None

    async def get(self) -> tuple[list[str], dict[str, str]]:
        """`(usable service ids, {unusable id: why})`."""
        if self._answer is None:
            self._answer = await self._directory.usable(self._user_id)
        return self._answer
