"""One message's cost (bench/message_cost.py): rows written read from a real PostgreSQL
database's pg_stat_user_tables after a known number of inserts, updates and deletes (and
from the row counts on SQLite), and what that comes to per message beside the driver."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import asyncpg
from bench.message_cost import against_driver, message_cost, settled_writes, summary
from bench.server import fresh_database

from tests.support.databases import require_postgres


async def _write(url: str) -> None:
    """7 inserts, 3 updates, 2 deletes on one table; 4 inserts on another; then the
    connection closes (its backend flushes its counters on exit)."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE a (id int PRIMARY KEY, v int)")
        await conn.execute("CREATE TABLE b (id int)")
        await conn.execute("INSERT INTO a SELECT g, 0 FROM generate_series(1, 7) g")
        await conn.execute("UPDATE a SET v = 1 WHERE id <= 3")
        await conn.execute("DELETE FROM a WHERE id > 5")
        await conn.copy_records_to_table("b", records=[(i,) for i in range(4)])
    finally:
        await conn.close()


def _budget() -> dict[str, object]:
    return {
        "cpu_ms_per_message": {"opencomms": 0.5, "postgresql": 0.25, "together": 0.75},
        "busy_share": 0.5,
        "other_busy_cores": 0.0,
    }


def test_postgresql_rows_written_are_the_pg_stat_deltas(tmp_path: Path) -> None:
    require_postgres()
    with fresh_database("postgresql", tmp_path) as url:
        before = asyncio.run(settled_writes(url))
        asyncio.run(_write(url))
        after = asyncio.run(settled_writes(url))
    cost = message_cost(before, after, _budget(), messages=2)
    assert cost["rows_per_message_by_table"] == {"a": 6.0, "b": 2.0}  # (7+3+2)/2, 4/2
    assert cost["rows_per_message"] == 8.0
    assert cost["cpu_us_per_message"]["opencomms"] == 500.0
    assert cost["server_cpu_us_per_message"] == 750.0


def test_sqlite_counts_the_rows_that_stayed(tmp_path: Path) -> None:
    with fresh_database("sqlite", tmp_path) as url:
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.execute("CREATE TABLE a (id int)")
        conn.commit()
        before = asyncio.run(settled_writes(url, pause_s=0.01))
        conn.executemany("INSERT INTO a VALUES (?)", [(i,) for i in range(10)])
        conn.execute("DELETE FROM a WHERE id < 4")
        conn.commit()
        conn.close()
        after = asyncio.run(settled_writes(url, pause_s=0.01))
    assert message_cost(before, after, _budget(), messages=3)["rows_per_message"] == 2.0


def test_the_cost_is_set_against_the_drivers_row_insert() -> None:
    cost = message_cost({"a": 0}, {"a": 40}, _budget(), messages=10)
    driver = against_driver(cost, driver_rows_per_s=100_000)  # 10 µs a row
    assert driver == {
        "driver_us_per_row": 10.0,
        "cpu_in_driver_rows": 75.0,
        "rows_written_cost_us": 40.0,
    }
    assert summary(cost | driver) == "4.0 rows, 750 µs CPU (driver 10.0 µs/row)"
