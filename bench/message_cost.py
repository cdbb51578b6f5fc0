"""What one message costs the database and the CPU (issue 14), set against the driver's
own limit: rows written per message and CPU microseconds per message of the opencomms
server and of PostgreSQL, beside the baseline's microseconds per driver row insert.

Rows written on PostgreSQL are the `n_tup_ins + n_tup_upd + n_tup_del` deltas of
`pg_stat_user_tables` in the run's own database. Those counters are flushed by each
backend on its own schedule (an idle backend may hold them ~10 s; every backend flushes
when it exits), so the figure after a run is read once the server has stopped and the
counters have stopped moving. SQLite keeps no such counters: there the figure is the
growth of each table's row count (inserts that stayed: updates and deletes unseen).
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import asyncpg

__all__ = ["against_driver", "message_cost", "settled_writes", "summary", "table_writes"]

_PG_WRITES = """
SELECT relname, n_tup_ins + n_tup_upd + n_tup_del AS written
FROM pg_stat_user_tables
"""


async def _pg_writes(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        flush = await conn.fetchval(
            "SELECT count(*) FROM pg_proc WHERE proname = 'pg_stat_force_next_flush'"
        )
        if flush:  # PG 15+: this backend's own pending counters (others flush on their own)
            await conn.execute("SELECT pg_stat_force_next_flush()")
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        return {r["relname"]: int(r["written"]) for r in await conn.fetch(_PG_WRITES)}
    finally:
        await conn.close()


def _sqlite_rows(url: str) -> dict[str, int]:
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        conn.close()


async def table_writes(url: str) -> dict[str, int]:
    """Per table: rows written so far (PostgreSQL) or rows present (SQLite)."""
    if url.startswith("sqlite:"):
        return await asyncio.to_thread(_sqlite_rows, url)
    return await _pg_writes(url)


async def settled_writes(url: str, *, pause_s: float = 0.5, within_s: float = 15) -> dict[str, int]:
    """`table_writes` once two reads `pause_s` apart agree (PostgreSQL backends flush
    their counters asynchronously, at the latest when they exit), or after `within_s`."""
    previous = await table_writes(url)
    for _ in range(max(1, int(within_s / pause_s))):
        await asyncio.sleep(pause_s)
        current = await table_writes(url)
        if current == previous:
            return current
        previous = current
    return previous


def message_cost(
    before: dict[str, int], after: dict[str, int], budget: dict[str, Any], messages: int
) -> dict[str, Any]:
    """Rows written per message (in all and per table that changed) and CPU µs per
    message of each part, from two `table_writes` and a `cpu_budget.budget`."""
    deltas = {t: n - before.get(t, 0) for t, n in after.items() if n != before.get(t, 0)}
    per_ms = budget["cpu_ms_per_message"]
    server_ms = per_ms.get("opencomms", 0.0) + per_ms.get("postgresql", 0.0)
    return {
        "rows_per_message": round(sum(deltas.values()) / messages, 3),
        "rows_per_message_by_table": {
            t: round(n / messages, 3) for t, n in sorted(deltas.items(), key=lambda x: -x[1])
        },
        "cpu_us_per_message": {part: round(ms * 1000, 1) for part, ms in per_ms.items()},
        "server_cpu_us_per_message": round(server_ms * 1000, 1),  # opencomms + PostgreSQL
        "busy_share": budget["busy_share"],
        "other_busy_cores": budget["other_busy_cores"],
    }


def against_driver(cost: dict[str, Any], driver_rows_per_s: float) -> dict[str, Any]:
    """The cost beside the driver's own µs per row insert (the baseline on the same
    engine): how many driver row inserts one message's server CPU would pay for."""
    driver_us = 1e6 / driver_rows_per_s
    return {
        "driver_us_per_row": round(driver_us, 2),
        "cpu_in_driver_rows": round(cost["server_cpu_us_per_message"] / driver_us, 1),
        "rows_written_cost_us": round(cost["rows_per_message"] * driver_us, 1),
    }


def summary(cost: dict[str, Any]) -> str:
    """One line for the table's ratio column."""
    parts = f"{cost['rows_per_message']:.1f} rows, {cost['server_cpu_us_per_message']:,.0f} µs CPU"
    if "driver_us_per_row" in cost:
        parts += f" (driver {cost['driver_us_per_row']:.1f} µs/row)"
    return parts
