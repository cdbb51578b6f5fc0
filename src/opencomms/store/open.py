"""Opening the database named by a URL of the contract, migrated to the newest schema."""

from __future__ import annotations

import asyncio

from opencomms.sealing import Sealer
from opencomms.store.database import Database
from opencomms.store.migrate import upgrade
from opencomms.store.postgres import PostgresDatabase
from opencomms.store.sqlite import ProcessLock, SqliteDatabase

__all__ = ["open_database", "refuse_if_in_use", "sqlite_path"]


def sqlite_path(database_url: str) -> str:
    """`sqlite:///relative.db` → `relative.db`; `sqlite:////abs.db` → `/abs.db`."""
    return database_url.removeprefix("sqlite:").removeprefix("///")


def refuse_if_in_use(database_url: str) -> None:
    """Raise `SqliteInUse` when another process holds this SQLite database (a server
    checks before it starts, to say so plainly; it takes the lock when it opens it)."""
    if database_url.startswith("sqlite:"):
        ProcessLock(sqlite_path(database_url)).release()


async def open_database(
    database_url: str,
    *,
    migrate: bool = True,
    sealer: Sealer | None = None,
    connect_timeout_s: float = 5.0,
    query_timeout_s: float = 30.0,
    sole_process: bool = False,
) -> Database:
    """`sealer`: the server's, which migrations that seal stored secrets need. The
    timeouts are PostgreSQL's: how long to wait for a connection, and for the answer to
    one statement. `sole_process`: the caller is a server; on SQLite it holds the file
    for as long as the database is open, and raises `SqliteInUse` (before migrating
    anything) when another process does."""
    lock = None
    if sole_process and database_url.startswith("sqlite:"):
        lock = ProcessLock(sqlite_path(database_url))
    try:
        if migrate:
            await asyncio.to_thread(upgrade, database_url, sealer)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    if database_url.startswith("sqlite:"):
        return SqliteDatabase(sqlite_path(database_url), lock=lock)
    if database_url.startswith(("postgresql:", "postgres:")):
        return await PostgresDatabase.connect(
            database_url, connect_timeout_s=connect_timeout_s, query_timeout_s=query_timeout_s
        )
    raise ValueError(f"unsupported database URL: {database_url}")
