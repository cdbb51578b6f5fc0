"""Admission: while an account's backlog is at `[limits] max_backlog_per_account` or
over, its sends are refused with 429 and an estimated `Retry-After`, so that a flood
waits at its client instead of growing a queue without end.

The backlog (store/backlog.py) is the recipients the account handed the server that
still wait for it. Knowing it on every POST without a query per POST: each process reads
it at most every `[limits] backlog_refresh` (250 ms), and no more often than 20 times
what the last read took (a slow read of a huge backlog costs the database at most 5 % of
one connection), and adds to what it read the recipients of the sends it accepted since.
Concurrent requests of one account share one read. Several processes (docs/scaling.md)
each do the same and see the others' sends at their next read: together they overshoot
the bound by at most what the others accept in one refresh interval, plus the last
send's own recipients (a send is refused once the backlog has reached the bound,
whatever its size). The bound is a brake on a flood, not an exact quota.

Retry-After: the excess over the bound divided by the drain rate seen between the
account's two latest reads (what the backlog lost, net of what this process added), in
whole seconds within [1, 60]; 1 while no rate is known.

Pacing small sends: one process serves the API and works the queue on the same core, so
a flood of one-recipient sends accepted as fast as they come leaves the queue too little
of it: the backlog grows while the flood lasts (at 1,000 sends a second on SQLite, the
server accepted them all and sent 550 a second). So while the part of an account's
backlog in small sends (domain/send_sizes.py) is at `[limits] pace_small_sends_at` or
over, a new small send of that account waits, before it is stored, until a later read
finds room, at most `[limits] pace_wait`; then it is a 429 like the bound's. The account's
flood is accepted at the rate it drains, its 202s come later, and the queue, hence the
time from POST to SENT, stays bounded. The send takes its room when it is let through,
so that the waiters one read releases do not all pass. Other accounts do not wait, and
neither do large sends (their per-recipient cost is small; the bound keeps them).
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Any

from litestar import Request

from opencomms.api.errors import CODES, ApiError
from opencomms.domain.send_sizes import SMALL_SEND
from opencomms.settings import LimitSettings
from opencomms.store.backlog import Backlog, account_backlog
from opencomms.store.database import Database

__all__ = ["STATE_KEY", "Admission", "admission_of"]

# where the send route finds the process's Admission: `app.state[STATE_KEY]`
STATE_KEY = "admission"
MAX_RETRY_AFTER_S = 60
RATE_WINDOW_S = 5.0  # a drain rate is only believed over two reads this close
READ_COST_FACTOR = 20  # reads are at least this many times their own duration apart


@dataclass
class _Seen:
    value: int  # the backlog as last read
    small: int  # the part of it in small sends
    read_at: float  # time.monotonic() of that read
    next_read: float  # not read again before
    added: int = 0  # recipients this process accepted since
    small_added: int = 0  # recipients of small sends let through since (before stored)
    drain_per_s: float = 0.0  # 0: not known


class Admission:
    """One per process: what it knows of each account's backlog."""

    def __init__(self, limits: LimitSettings) -> None:
        self.bound = limits.max_backlog_per_account
        self.refresh_s = limits.backlog_refresh_s
        self.pace_at = limits.pace_small_sends_at
        self.pace_wait_s = limits.pace_wait_s
        self._seen: dict[str, _Seen] = {}
        self._reads: dict[str, asyncio.Future[_Seen]] = {}

    async def admit(self, db: Database, account: str) -> None:
        """Raise the 429 if `account`'s backlog is at the bound or over."""
        if self.bound == 0:
            return
        seen = await self._current(db, account)
        excess = seen.value + seen.added - self.bound
        if excess >= 0:
            raise self._too_many(seen, excess + 1)

    async def pace(self, db: Database, account: str, recipients: int) -> None:
        """A small send waits while `account`'s small sends waiting are at the pace
        bound or over, then takes its room; past `pace_wait` it is the 429."""
        if self.pace_at == 0 or recipients > SMALL_SEND:
            return
        deadline = time.monotonic() + self.pace_wait_s
        while True:
            seen = await self._current(db, account)
            if seen.small + seen.small_added < self.pace_at:
                seen.small_added += recipients
                return
            now = time.monotonic()
            if now >= deadline:
                raise self._too_many_small(seen)
            await asyncio.sleep(min(max(seen.next_read - now, 0.0), deadline - now))

    def accepted(self, account: str, recipients: int) -> None:
        """Count a send this process stored, until the next read sees it."""
        seen = self._seen.get(account)
        if seen is not None:
            seen.added += recipients

    async def _current(self, db: Database, account: str) -> _Seen:
        seen = self._seen.get(account)
        if seen is None or time.monotonic() >= seen.next_read:
            seen = await self._read(db, account)
        return seen

    async def _read(self, db: Database, account: str) -> _Seen:
        pending = self._reads.get(account)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(db, account))
            self._reads[account] = pending
            pending.add_done_callback(lambda done: self._forget(account, done))
        # shielded: a request given up does not cancel the read the others wait for
        return await asyncio.shield(pending)

    def _forget(self, account: str, done: asyncio.Future[_Seen]) -> None:
        if self._reads.get(account) is done:
            del self._reads[account]

    async def _fetch(self, db: Database, account: str) -> _Seen:
        started = time.monotonic()
        backlog: Backlog = await db.read(lambda conn: account_backlog(conn, account, SMALL_SEND))
        value = backlog.recipients
        now = time.monotonic()
        pause = max(self.refresh_s, READ_COST_FACTOR * (now - started))
        seen = _Seen(value, backlog.in_small_sends, now, now + pause)
        before = self._seen.get(account)
        if before is not None and now - before.read_at <= RATE_WINDOW_S:
            drained = before.value + before.added - value
            rate = drained / (now - before.read_at) if now > before.read_at else 0.0
            seen.drain_per_s = rate if rate > 0 else before.drain_per_s
        self._seen[account] = seen
        return seen

    def _too_many(self, seen: _Seen, excess: int) -> ApiError:
        backlog = seen.value + seen.added
        return _refusal(
            seen,
            excess,
            f"The account has {backlog} recipients waiting to be sent,"
            f" at or over its limit of {self.bound}.",
        )

    def _too_many_small(self, seen: _Seen) -> ApiError:
        waiting = seen.small + seen.small_added
        return _refusal(
            seen,
            waiting - self.pace_at + 1,
            f"The account has {waiting} recipients of small sends waiting to be sent, at"
            f" or over its pace of {self.pace_at}, and no room came within {self.pace_wait_s:g} s.",
        )


def _refusal(seen: _Seen, excess: int, why: str) -> ApiError:
    """The 429, with the seconds the excess takes to drain at the rate last seen."""
    wait = math.ceil(excess / seen.drain_per_s) if seen.drain_per_s > 0 else 1
    return ApiError(
        429,
        f"{CODES[429][1]} {why}",
        headers={"Retry-After": str(min(max(wait, 1), MAX_RETRY_AFTER_S))},
    )


def admission_of(request: Request[Any, Any, Any]) -> Admission:
    admission: Admission = request.app.state[STATE_KEY]
    return admission
