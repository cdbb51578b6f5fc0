"""Pacing a provider's throughput, fairly: a token bucket and a fair queue in front of it.

A sender that takes 50 messages a second is the point where a million-recipient
campaign and a one-recipient send started after it compete. `FairPacer` hands out the
bucket's turns round-robin: between accounts first, then between the operations of an
account, and in arrival order within an operation. So the lone send waits for about
one turn per running account, not for the campaign.
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["FairPacer", "TokenBucket"]


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


class _RoundRobin:
    """Queues by key, served one item at a time, key after key."""

    def __init__(self) -> None:
        self.queues: dict[str, deque[asyncio.Future[None]]] = {}
        self.order: deque[str] = deque()

    def add(self, key: str, waiter: asyncio.Future[None]) -> None:
        if key not in self.queues:
            self.queues[key] = deque()
            self.order.append(key)
        self.queues[key].append(waiter)

    def next_key(self) -> str | None:
        """The key whose turn it is (moved to the back), or None when all are empty."""
        while self.order:
            key = self.order.popleft()
            queue = self.queues[key]
            while queue and queue[0].done():  # canceled while waiting
                queue.popleft()
            if queue:
                self.order.append(key)
                return key
            del self.queues[key]
        return None


class FairPacer:
    """At most `rate` turns a second (0: no limit), round-robin between accounts, then
    between an account's operations."""

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._bucket = TokenBucket(rate)
        self._operations: dict[str, _RoundRobin] = {}  # by account
        self._accounts: deque[str] = deque()
        self._runner: asyncio.Task[None] | None = None

    async def turn(self, account: str, operation: str) -> None:
        """Wait for this submission's turn."""
        if self._rate <= 0:
            return
        waiter = asyncio.get_running_loop().create_future()
        if account not in self._operations:
            self._operations[account] = _RoundRobin()
            self._accounts.append(account)
        self._operations[account].add(operation, waiter)
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._grant_turns())
        await waiter

    async def _grant_turns(self) -> None:
        while (waiter := self._next_waiter()) is not None:
            await self._bucket.take()
            if not waiter.done():
                waiter.set_result(None)

    def _next_waiter(self) -> asyncio.Future[None] | None:
        while self._accounts:
            account = self._accounts.popleft()
            operations = self._operations[account]
            operation = operations.next_key()
            if operation is None:
                del self._operations[account]
                continue
            self._accounts.append(account)
            return operations.queues[operation].popleft()
        return None
