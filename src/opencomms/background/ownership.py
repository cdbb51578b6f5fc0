"""This process's ownership leases (store/ownership.py): taken when a singleton is
wanted, renewed in the background while held, and believed held only while surely so.

A process believes it holds a lease until `TTL_S * SAFE_SHARE` after the renewal that
last succeeded began: a process that cannot reach the database, or stalls, stops acting
as the owner before the lease can run out in the database and be taken by another. A
lease is renewed every RENEW_S; a dead owner's lease runs out TTL_S after its last
renewal, and another process that wants it takes it within RETRY_S of that: a takeover
takes at most TAKEOVER_S (docs/scaling.md, "Singletons").
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time

from opencomms.store import ownership
from opencomms.store.database import Conn, Database

__all__ = ["RENEW_S", "RETRY_S", "TAKEOVER_S", "TTL_S", "Ownership", "process_owner"]

log = logging.getLogger(__name__)

TTL_S = 10.0
RENEW_S = 2.0
RETRY_S = 1.0
SAFE_SHARE = 0.8
TAKEOVER_S = TTL_S + RETRY_S


def process_owner() -> str:
    """A name for this process, unique among all processes ever: host, pid, random."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Ownership:
    def __init__(self, db: Database, *, owner: str | None = None, ttl_s: float = TTL_S) -> None:
        self._db = db
        self.owner = owner or process_owner()
        self._ttl_ms = int(ttl_s * 1000)
        self._safe_s = ttl_s * SAFE_SHARE
        self._held: dict[str, float] = {}  # name -> until when it is surely ours (monotonic)
        self._elsewhere: dict[str, float] = {}  # name -> when to try to take it again

    def holds(self, name: str) -> bool:
        """Whether this process surely holds `name` now."""
        return self._held.get(name, 0.0) > time.monotonic()

    def may_take(self, name: str) -> bool:
        """False while another process was seen holding `name` a moment ago."""
        return self.holds(name) or self._elsewhere.get(name, 0.0) <= time.monotonic()

    async def take(self, name: str) -> bool:
        """Hold `name`: True when this process holds it now (it already did, or it was
        free or had run out); False when another process holds it (asked again only
        RETRY_S later: the database is not asked at every look)."""
        if self.holds(name):
            return True
        if not self.may_take(name):
            return False
        started = time.monotonic()
        taken = await self._db.write(
            lambda conn: ownership.take(conn, name, self.owner, self._ttl_ms)
        )
        if taken is None:
            self._elsewhere[name] = started + RETRY_S
            return False
        self._elsewhere.pop(name, None)
        if name not in self._held:
            log.info("this process (%s) now runs %s", self.owner, name)
        self._held[name] = started + self._safe_s
        return True

    async def confirm(self, conn: Conn, name: str) -> bool:
        """In the caller's transaction: whether this process still holds `name` (renewed
        if so). A write that must come from the owner alone is fenced by it: on
        PostgreSQL the lease's row stays locked until the transaction ends."""
        started = time.monotonic()
        if name in await ownership.renew(conn, [name], self.owner, self._ttl_ms):
            self._held[name] = max(self._held.get(name, 0.0), started + self._safe_s)
            return True
        self.forget(name)
        return False

    def forget(self, name: str) -> None:
        """`name` turned out to be another's (or this process lets it go)."""
        if self._held.pop(name, None) is not None:
            log.warning("this process (%s) no longer runs %s", self.owner, name)

    async def run(self) -> None:
        """Renew what is held, every RENEW_S."""
        while True:
            await asyncio.sleep(RENEW_S)
            await self.renew()

    async def renew(self) -> None:
        names = sorted(self._held)
        if not names:
            return
        started = time.monotonic()
        kept = await self._db.write(
            lambda conn: ownership.renew(conn, names, self.owner, self._ttl_ms)
        )
        for name in names:
            if name in kept:
                self._held[name] = started + self._safe_s
            else:
                self.forget(name)

    async def release_all(self) -> None:
        """At a clean stop: every lease held goes, for another process to take at once."""
        names = sorted(self._held)
        self._held.clear()
        if names:
            await self._db.write(lambda conn: ownership.release(conn, names, self.owner))
