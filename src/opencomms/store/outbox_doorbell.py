"""A doorbell on the events outbox: the database, seen through a wrapper that calls
`ring` once a transaction that wrote events has committed, so that the delivery worker
starts on them now rather than at its next poll.

Only this process's commits ring; another process's events (PostgreSQL, several
`serve`s) are found at the next poll, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from opencomms.store.database import Column, Conn, Database, Intent, Row
from opencomms.store.events import EVENTS_TABLE

__all__ = ["OutboxDoorbell"]

T = TypeVar("T")


class _NotingConn:
    """A connection that notes whether events were inserted through it."""

    def __init__(self, conn: Conn) -> None:
        self.dialect = conn.dialect
        self._conn = conn
        self.wrote_events = False

    async def execute(self, sql: str, *args: Any) -> int:
        return await self._conn.execute(sql, *args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._conn.executemany(sql, rows)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return await self._conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        return await self._conn.fetchrow(sql, *args)

    async def insert_many(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        await self._conn.insert_many(table, columns, rows)
        if table == EVENTS_TABLE and rows:
            self.wrote_events = True

    async def update_many(
        self, table: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]]
    ) -> None:
        await self._conn.update_many(table, columns, rows)


class OutboxDoorbell:
    """`db`, whose writes call `ring()` after committing any events."""

    def __init__(self, db: Database, ring: Callable[[], None]) -> None:
        self.dialect = db.dialect
        self._db = db
        self._ring = ring

    async def write(self, intent: Intent[T]) -> T:
        conns: list[_NotingConn] = []  # one per run of the intent (a group may rerun it)

        async def noted(conn: Conn) -> T:
            noting = _NotingConn(conn)
            conns.append(noting)
            return await intent(noting)

        result = await self._db.write(noted)
        if any(conn.wrote_events for conn in conns):
            self._ring()
        return result

    async def read(self, query: Intent[T]) -> T:
        return await self._db.read(query)

    async def close(self) -> None:
        await self._db.close()
