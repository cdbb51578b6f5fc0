"""Opening the database named by a URL of the contract, migrated to the newest schema."""

from __future__ import annotations

import asyncio

from opencomms.sealing import Sealer
from opencomms.store.database import Database
from opencomms.store.migrate import upgrade
from opencomms.store.postgres import PostgresDatabase
from opencomms.store.sqlite import SqliteDatabase

__all__ = ["open_database", "sqlite_path"]


def sqlite_path(database_url: str) -> str:
    """`sqlite:///relative.db` → `relative.db`; `sqlite:////abs.db` → `/abs.db`."""
    return database_url.removeprefix("sqlite:").removeprefix("///")


async def open_database(
    database_url: str,
    *,
    migrate: bool = True,
    sealer: Sealer | None = None,
    connect_timeout_s: float = 5.0,
    query_timeout_s: float = 30.0,
) -> Database:
    """`sealer`: the server's, which migrations that seal stored secrets need. The
    timeouts are PostgreSQL's: how long to wait for a connection, and for the answer to
    one statement."""
    if migrate:
        await asyncio.to_thread(upgrade, database_url, sealer)
    if database_url.startswith("sqlite:"):
        return SqliteDatabase(sqlite_path(database_url))
    if database_url.startswith(("postgresql:", "postgres:")):
        return await PostgresDatabase.connect(
            database_url, connect_timeout_s=connect_timeout_s, query_timeout_s=query_timeout_s
        )
    raise ValueError(f"unsupported database URL: {database_url}")
