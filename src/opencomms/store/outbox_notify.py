"""Across processes on PostgreSQL: a process that committed events says so on a channel
(NOTIFY), and the delivery worker of every process listens (LISTEN), so that it starts a
round at once rather than at its next poll.

A notification only wakes a worker; it carries nothing the worker needs. It is sent
after the commit, outside the transaction that wrote the events (a NOTIFY inside it
would take PostgreSQL's commit-time notification lock in every dispatch transaction),
and at most once every COALESCE_S per process. One lost with its connection costs the
poll (store/outbox_watch.py still finds the events); a listener that (re)connects rings
once, for what it may have missed. Events seen by a worker only once older transactions
have ended is the watch's affair: a ring starts its short rechecks (events/
sink_delivery.py, RECHECK_S).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

from opencomms.store.database import Conn, Database

__all__ = ["CHANNEL", "COALESCE_S", "OutboxNotifier", "listen"]

log = logging.getLogger(__name__)

CHANNEL = "opencomms_events"
COALESCE_S = 0.02
CONNECT_TIMEOUT_S = 5.0
FIRST_RETRY_S = 0.1  # then doubling, up to the caller's cap


class OutboxNotifier:
    """Tells the other processes that this one committed events (PostgreSQL only)."""

    def __init__(self, db: Database, owner: str) -> None:
        """`owner`: this process's name, sent as the payload (its own listener skips it)."""
        self._db = db
        self._owner = owner
        self._poked = asyncio.Event()

    def poke(self) -> None:
        """Events were committed: notify soon (several pokes, one notification)."""
        self._poked.set()

    async def run(self) -> None:
        while True:
            await self._poked.wait()
            self._poked.clear()
            await self._db.write(self._notify)
            await asyncio.sleep(COALESCE_S)

    async def _notify(self, conn: Conn) -> None:
        await conn.fetchrow("SELECT pg_notify(?, ?)", CHANNEL, self._owner)


async def listen(url: str, owner: str, ring: Callable[[], None], max_backoff_s: float) -> None:
    """Ring at every notification from another process, for ever; reconnect when the
    connection is lost (with backoff), ringing once at each (re)connection."""
    delay_s = FIRST_RETRY_S
    while True:
        try:
            conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, asyncpg.PostgresError) as error:
            log.warning("cannot listen for committed events (the poll remains): %s", error)
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, max(max_backoff_s, FIRST_RETRY_S))
            continue
        try:
            await _listen_on(conn, owner, ring)
            delay_s = FIRST_RETRY_S
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=1.0)


async def _listen_on(conn: asyncpg.Connection, owner: str, ring: Callable[[], None]) -> None:
    """Until the connection is lost."""
    lost = asyncio.Event()

    def heard(_conn: object, _pid: int, _channel: str, payload: str) -> None:
        if payload != owner:
            ring()

    conn.add_termination_listener(lambda _conn: lost.set())
    await conn.add_listener(CHANNEL, heard)
    ring()  # anything committed while nobody listened
    await lost.wait()
