"""Plans that stay good without statistics, for the queries a worker repeats all day.

PostgreSQL plans from its statistics, which autovacuum keeps (docs/decisions.md,
"PostgreSQL query plans without statistics"). Without them (autovacuum off, or a burst
of rows not analyzed yet) two things go wrong on a queue-shaped read, and each makes the
next read slower as the backlog grows: a prepared statement keeps the plan made when its
tables were nearly empty (the dispatcher's claim kept a nested loop over every attempt:
300 ms a claim at 40,000 attempts), and a fresh plan guesses that few rows match and
sorts all of them instead of reading the first ones in index order (a sink's next batch
read 148,000 events to return 90). A 100,000-Message run completed at 330 Messages a
second instead of 2,700.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from opencomms.store.database import Conn

__all__ = ["in_index_order"]


@asynccontextmanager
async def in_index_order(conn: Conn) -> AsyncIterator[None]:
    """Inside, on PostgreSQL, statements are planned afresh for the tables as they are
    now and read rows in their index's order, never by sorting: plans are not reused and
    sorting is off, for these statements only (SET LOCAL, set back after them; a failed
    transaction drops it with the rest). SQLite needs none of it."""
    if conn.dialect != "postgresql":
        yield
        return
    await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan; SET LOCAL enable_sort = off")
    yield
    await conn.execute("SET LOCAL plan_cache_mode TO DEFAULT; SET LOCAL enable_sort TO DEFAULT")
