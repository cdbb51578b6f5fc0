"""Alembic environment: runs the migrations on an async engine (aiosqlite or asyncpg).

On PostgreSQL the migration transaction first takes an advisory lock on a fixed key, so
that processes starting at once migrate one after the other: the later ones wait, then
find the schema at head and do nothing. SQLite is single-process (its writes are
serialised by the file lock anyway)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from opencomms.store.schema import metadata

config = context.config

# pg_advisory_xact_lock's key for "migrating opencomms" (any fixed 64-bit number; this is
# the first 8 bytes of sha256("opencomms migrations"), unlikely to meet another user's)
MIGRATION_LOCK_KEY = 0x3024_C0C7_44BD_2211


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # held until the transaction ends; the current revision is read after it
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


asyncio.run(_run_async())
