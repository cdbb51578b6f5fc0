"""A token bucket: at most `rate` submit_sm a second across every bind of a connector."""

from __future__ import annotations

import asyncio

__all__ = ["TokenBucket"]


class TokenBucket:
    """Each `take()` spends one token; tokens come back at `rate` a second, up to
    `burst`. A taker that finds none reserves the next (the count goes negative) and
    sleeps until it is due, so concurrent takers leave in turn, `1 / rate` apart."""

    def __init__(self, rate: float, burst: float = 1) -> None:
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._last: float | None = None

    async def take(self) -> None:
        if self._rate <= 0:
            return
        now = asyncio.get_running_loop().time()
        if self._last is not None:
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        self._tokens -= 1
        if self._tokens < 0:
            await asyncio.sleep(-self._tokens / self._rate)
