"""Waiting out an unavailable database (a full disk, a lost server): the background
workers keep what they hold in memory (answers, receipts, a delivered batch), wait with a
capped exponential backoff, and store it once the database is back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from opencomms.store.errors import StoreUnavailable

__all__ = ["Backoff", "until_stored"]

log = logging.getLogger(__name__)

T = TypeVar("T")
FIRST_S = 0.1


class Backoff:
    """Delays that double from FIRST_S up to `cap_s`."""

    def __init__(self, cap_s: float) -> None:
        self._cap_s = max(cap_s, FIRST_S)
        self._next_s = FIRST_S

    def next_delay(self) -> float:
        delay = self._next_s
        self._next_s = min(self._next_s * 2, self._cap_s)
        return delay

    def reset(self) -> None:
        self._next_s = FIRST_S


async def until_stored(call: Callable[[], Awaitable[T]], what: str, cap_s: float) -> T:
    """`call()` again and again while the database is unavailable; its result once it is
    back. Any other error is raised at once."""
    backoff = Backoff(cap_s)
    while True:
        try:
            return await call()
        except StoreUnavailable as error:
            delay = backoff.next_delay()
            log.warning("%s waits for the database (%s); next try in %.1f s", what, error, delay)
            await asyncio.sleep(delay)
