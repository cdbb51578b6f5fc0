"""PostgreSQL through asyncpg: a connection pool, binary COPY for bulk inserts, one
UPDATE ... FROM unnest(...) for bulk updates.

A lost server (refused, reset, not answering within the connect timeout, shutting down,
out of disk) raises `StoreUnavailable`; the pool drops broken connections and opens new
ones once the server is back.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TypeVar

import asyncpg

from opencomms.store.database import Column, Dialect, Intent, Row
from opencomms.store.errors import StoreUnavailable, postgres_unavailable

__all__ = ["PostgresDatabase"]

T = TypeVar("T")
_MARK = re.compile(r"\?")
_RETRYABLE = (asyncpg.SerializationError, asyncpg.DeadlockDetectedError)
_RETRIES = 5


@lru_cache(maxsize=1024)
def _numbered(sql: str) -> str:
    """`?` placeholders to asyncpg's `$1, $2, …` (no query here has a literal `?`)."""
    counter = iter(range(1, 100_000))
    return _MARK.sub(lambda _: f"${next(counter)}", sql)


def _update_from_arrays(table: str, columns: Sequence[Column]) -> str:
    """One UPDATE of `table` whose new values come as one array per column, then the ids
    (ids are `Id`, collated "C" as the primary key is, so that its index is used)."""
    sets = ", ".join(f"{name} = u.{name}" for name, _ in columns)
    arrays = ", ".join(f"${i}::{kind}[]" for i, (_, kind) in enumerate(columns, 1))
    names = ", ".join(name for name, _ in columns)
    return (
        f"UPDATE {table} t SET {sets} FROM unnest({arrays}, ${len(columns) + 1}::text[])"
        f' AS u({names}, id) WHERE t.id = u.id COLLATE "C"'
    )


def _rowcount(status: str) -> int:
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class PostgresConn:
    dialect: Dialect = "postgresql"

    def __init__(self, raw: asyncpg.Connection) -> None:
        self._raw = raw

    async def execute(self, sql: str, *args: Any) -> int:
        return _rowcount(await self._raw.execute(_numbered(sql), *args))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            await self._raw.executemany(_numbered(sql), rows)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return list(await self._raw.fetch(_numbered(sql), *args))

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        row: Row | None = await self._raw.fetchrow(_numbered(sql), *args)
        return row

    async def insert_many(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        if rows:
            await self._raw.copy_records_to_table(table, records=rows, columns=list(columns))

    async def update_many(
        self, table: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]]
    ) -> None:
        if rows:
            arrays = [list(values) for values in zip(*rows, strict=True)]
            await self._raw.execute(_update_from_arrays(table, columns), *arrays)


class PostgresDatabase:
    dialect: Dialect = "postgresql"

    def __init__(self, pool: asyncpg.Pool, *, connect_timeout_s: float = 5.0) -> None:
        self._pool = pool
        self._timeout_s = connect_timeout_s

    @classmethod
    async def connect(
        cls,
        dsn: str,
        *,
        max_size: int = 10,
        connect_timeout_s: float = 5.0,
        query_timeout_s: float = 30.0,
    ) -> PostgresDatabase:
        """A pool of up to `max_size` connections. A new connection, or a free one from
        the pool, not had within `connect_timeout_s`, or a statement not answered within
        `query_timeout_s` (a server that stopped answering: a partition drops packets,
        it refuses nothing) is a StoreUnavailable. No floor of open connections
        (min_size 0): asyncpg would keep reconnecting one in the background while the
        server is away, logging a traceback at each try."""
        pool = await asyncpg.create_pool(
            dsn,
            min_size=0,
            max_size=max_size,
            timeout=connect_timeout_s,
            command_timeout=query_timeout_s,
            reset=_nothing_to_reset,
        )
        return cls(pool, connect_timeout_s=connect_timeout_s)

    async def write(self, intent: Intent[T]) -> T:
        with _unavailable_raised():
            return await self._write(intent)

    async def read(self, query: Intent[T]) -> T:
        with _unavailable_raised():
            async with (
                self._pool.acquire(timeout=self._timeout_s) as raw,
                raw.transaction(isolation="repeatable_read", readonly=True),
            ):
                return await query(PostgresConn(raw))

    async def _write(self, intent: Intent[T]) -> T:
        for attempt in range(_RETRIES):
            try:
                async with self._pool.acquire(timeout=self._timeout_s) as raw, raw.transaction():
                    return await intent(PostgresConn(raw))
            except _RETRYABLE:
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    async def close(self) -> None:
        await self._pool.close()


async def _nothing_to_reset(_: asyncpg.Connection) -> None:
    """A pooled connection goes back as it came: every statement here runs in a
    transaction that ends before the release (asyncpg rolls back one left open), and
    none sets session state (no SET, LISTEN, cursor or session advisory lock; the
    events listener has its own connection, store/outbox_notify.py). asyncpg's default
    reset would clear all that with one more round trip per transaction: about 5 % of
    the server's CPU under single sends (bench/profile.py --stage single-sends)."""


@contextmanager
def _unavailable_raised() -> Iterator[None]:
    """asyncpg's errors of a lost or failing server, as StoreUnavailable."""
    try:
        yield
    except Exception as error:
        if postgres_unavailable(error):
            raise StoreUnavailable(f"PostgreSQL: {type(error).__name__}: {error}") from error
        raise
