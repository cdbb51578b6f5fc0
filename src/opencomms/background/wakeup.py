"""A worker's doorbell: it sleeps until rung or until its poll interval passes."""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["Wakeup"]


class Wakeup:
    def __init__(self, poll_s: float) -> None:
        self._poll_s = poll_s
        self._event = asyncio.Event()

    def ring(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        """Return when rung (or already rung since the last wait), or after the poll interval."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), self._poll_s)
        self._event.clear()
