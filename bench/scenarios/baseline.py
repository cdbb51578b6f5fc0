"""6. baseline: the machine's limit, i.e. the raw insert rate of the same Message rows with
the driver alone (sqlite3 executemany in one transaction, WAL, synchronous=NORMAL;
asyncpg binary COPY), into a freshly migrated database with the real indexes."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import asyncpg

from bench.report import Result
from bench.rows import capture_template, clone_messages, insert_rows
from bench.scenarios import Context, check, checked
from bench.server import Credentials, fresh_database
from opencomms.domain.ids import new_operation_id

__all__ = ["run_baseline"]


def _count(database_url: str, operation_id: str) -> int:
    sql = "SELECT count(*) FROM messages WHERE operation_id = "
    if database_url.startswith("sqlite:"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"))
        try:
            found: int = conn.execute(sql + "?", (operation_id,)).fetchone()[0]
            return found
        finally:
            conn.close()

    async def count() -> int:
        pg = await asyncpg.connect(database_url)
        try:
            value: int = await pg.fetchval(sql + "$1", operation_id)
            return value
        finally:
            await pg.close()

    return asyncio.run(count())


def run_baseline(context: Context, engine: str) -> Result:
    rows = context.params.baseline_rows
    result = Result(
        "baseline", engine, f"driver insert, {rows:,} rows", "rows/s", "(the machine's limit)"
    )
    with checked(context.run, result):
        directory = context.directory(f"baseline-{engine}")
        with fresh_database(engine, directory) as url:
            template = capture_template(url, directory, Credentials.fresh())
            operation_id = new_operation_id()
            prepared = list(clone_messages(template, operation_id, rows))
            started = time.perf_counter()
            inserted = insert_rows(url, "messages", template.message_columns, prepared)
            elapsed = time.perf_counter() - started
            check(inserted == rows, f"inserted {inserted} rows of {rows}")
            check(_count(url, operation_id) == rows, "the inserted rows are not all there")
        result.measured = rows / elapsed
        result.met = True  # a reference, not a target
        result.details = {"rows": rows, "seconds": round(elapsed, 3)}
        print(f"  baseline {engine}: {result.measured:,.0f} rows/s", flush=True)
    return result
