"""PostgreSQL through asyncpg: a connection pool, binary COPY for bulk inserts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, TypeVar

import asyncpg

from opencomms.store.database import Dialect, Intent, Row

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


class PostgresDatabase:
    dialect: Dialect = "postgresql"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def connect(cls, dsn: str, *, max_size: int = 10) -> PostgresDatabase:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=max_size)
        return cls(pool)

    async def write(self, intent: Intent[T]) -> T:
        for attempt in range(_RETRIES):
            try:
                async with self._pool.acquire() as raw, raw.transaction():
                    return await intent(PostgresConn(raw))
            except _RETRYABLE:
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    async def read(self, query: Intent[T]) -> T:
        async with (
            self._pool.acquire() as raw,
            raw.transaction(isolation="repeatable_read", readonly=True),
        ):
            return await query(PostgresConn(raw))

    async def close(self) -> None:
        await self._pool.close()
