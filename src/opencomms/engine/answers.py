"""A claim's answers from its connectors, gathered as they come.

A connector that answers one submission at a time (SMPP: one submit_sm_resp each) reports
every answer as it arrives. The dispatcher stores what has gathered while the claim's
slower submissions are still out, so a provider's message id is on its attempt within
moments of its answer instead of when the whole claim is through: a crash in between
then leaves almost nothing SENT without the id its receipts will name.
"""

from __future__ import annotations

import asyncio
from typing import Any

from opencomms.connectors.base import SubmitResult

__all__ = ["Answers"]


class Answers:
    def __init__(self) -> None:
        self._pending: list[SubmitResult] = []
        self._seen: set[str] = set()
        self._arrived = asyncio.Event()

    def add(self, result: SubmitResult) -> None:
        """An answer, as it comes (an `AnswerHandler`); the same attempt's answer
        reported again, streamed then returned, is taken once."""
        if result.attempt_id in self._seen:
            return
        self._seen.add(result.attempt_id)
        self._pending.append(result)
        self._arrived.set()

    def answered(self, attempt_id: str) -> bool:
        return attempt_id in self._seen

    def take(self) -> list[SubmitResult]:
        """The answers gathered since the last take."""
        taken, self._pending = self._pending, []
        self._arrived.clear()
        return taken

    def put_back(self, results: list[SubmitResult]) -> None:
        """Answers taken but not stored: they go with the next take."""
        self._pending[:0] = results

    async def gather(self, submitting: asyncio.Future[Any], linger_s: float) -> bool:
        """Wait for an answer, then up to `linger_s` for more to join it, so that a burst
        is stored in one transaction. Returns early, with True, once `submitting` ends."""
        arrival = asyncio.ensure_future(self._arrived.wait())
        try:
            await asyncio.wait({submitting, arrival}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            arrival.cancel()
        if not submitting.done():
            await asyncio.wait({submitting}, timeout=linger_s)
        return submitting.done()
