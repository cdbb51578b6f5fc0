"""Which accounts have new events: one small read of the outbox per look, however many
sinks there are, so that a sink with nothing to deliver costs no query at all.

SQLite has one writer, which commits in `seq` order: the events after the highest `seq`
seen are the new ones.

On PostgreSQL transactions commit in any order. Every transaction with a txid below a
look's horizon (`pg_snapshot_xmin`) has ended, so the events that became readable
between two looks are those with a txid in [previous horizon, this horizon). They are
found by a range of `seq` (the primary key) rather than by an index of txids that every
insert would pay for: a transaction that got its txid after a look was taken (the look's
`pg_snapshot_xmax` is at most that txid) draws every `seq` after that look, so its
events lie above the highest `seq` the look could see. One look further back covers the
instant between a statement's `nextval` and its txid, when the events are a
transaction's first write. While the horizon stays where it was (a long transaction
anywhere on the server holds it), nothing new is readable and nothing is read; when a
transaction older than every look ends, its events are found through the account index,
one probe per account that has a sink.
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

from opencomms.store.database import Conn

__all__ = ["OutboxWatch"]

_SNAPSHOT = (
    "SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint,"
    " (SELECT COALESCE(MAX(seq), 0) FROM events) FROM pg_current_snapshot() s"
)
# Both ends of the seq range are given (the top one is the look's own highest seq, the
# same snapshot), so that every plan, even one made when the table was empty, reads a
# range of the primary key: with `seq > ?` alone a cached plan scanned every event kept.
_BY_SEQ = (
    "SELECT DISTINCT account_sid FROM events WHERE seq > ? AND seq <= ? AND txid >= ? AND txid < ?"
)
# without a seq to start from: one probe of the account index per account with a sink
_BY_ACCOUNT = (
    "SELECT DISTINCT account_sid FROM sinks s WHERE status = 'ACTIVE' AND EXISTS"
    " (SELECT 1 FROM events e WHERE e.account_sid = s.account_sid AND e.txid >= ?"
    " AND e.txid < ?)"
)
MAX_LOOKS = 10_000  # a transaction open longer than this many looks: look at every sink


class _Look(NamedTuple):
    xmin: int  # every txid below has ended
    xmax: int  # no txid from here on had started
    seq: int  # the highest seq readable


class OutboxWatch:
    """Call `news` once per round of the delivery worker, with the round's snapshot."""

    def __init__(self) -> None:
        self._seq: int | None = None  # SQLite: the highest seq seen
        self._looks: deque[_Look] = deque(maxlen=MAX_LOOKS)  # PostgreSQL, oldest first

    async def news(self, conn: Conn) -> set[str] | None:
        """The accounts with events readable since the last call; None at the first call,
        when every sink should look for itself (events may wait from before the start)."""
        if conn.dialect == "postgresql":
            return await self._postgres_news(conn)
        return await self._sqlite_news(conn)

    async def _sqlite_news(self, conn: Conn) -> set[str] | None:
        if self._seq is None:
            row = await conn.fetchrow("SELECT COALESCE(MAX(seq), 0) FROM events")
            self._seq = int(row[0]) if row is not None else 0
            return None
        # NOT INDEXED: a range of the rowid, however many events are kept. Left to itself,
        # SQLite groups by reading all of ix_events_account (every event ever kept) at
        # every look, so that delivery slowed as the outbox grew.
        rows = await conn.fetch(
            "SELECT account_sid, MAX(seq) FROM events NOT INDEXED WHERE seq > ?"
            " GROUP BY account_sid",
            self._seq,
        )
        self._seq = max([self._seq, *(int(row[1]) for row in rows)])
        return {row[0] for row in rows}

    async def _postgres_news(self, conn: Conn) -> set[str] | None:
        row = await conn.fetchrow(_SNAPSHOT)
        assert row is not None
        look = _Look(int(row[0]), int(row[1]), int(row[2]))
        previous = self._looks[-1] if self._looks else None
        floor = None if previous is None else self._floor(previous.xmin)
        self._looks.append(look)
        if previous is None:
            return None
        if look.xmin == previous.xmin:
            return set()  # no transaction ended below the horizon: nothing new is readable
        if floor is None:  # a transaction older than every look ended
            rows = await conn.fetch(_BY_ACCOUNT, previous.xmin, look.xmin)
        else:
            rows = await conn.fetch(_BY_SEQ, floor, look.seq, previous.xmin, look.xmin)
        return {row[0] for row in rows}

    def _floor(self, horizon: int) -> int | None:
        """A seq below every event of every transaction with a txid from `horizon` on:
        the highest seq of the look before the last look taken before they started."""
        looks = self._looks
        for index in range(len(looks) - 1, 0, -1):
            if looks[index].xmax <= horizon:
                for _ in range(index - 1):  # older looks are needed no more
                    looks.popleft()
                return looks[0].seq
        return None
