"""Message rows for seeding and for the driver baseline, cloned from rows the server wrote.

Rather than restating the table layout here (and drifting from it), a small real
operation is sent through the API first; once it is COMPLETED, one of its Message rows
and its operation row are read back and used as templates. A clone changes only what
must differ per Message (id, recipient index and address, attempt id, times), so the
seeded rows are what the engine itself stores for a delivered Message.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from ulid import ULID

from bench.api import Api, phone_number, send_body
from bench.server import Credentials, ServerProcess

__all__ = [
    "Template",
    "capture_template",
    "clone_messages",
    "insert_rows",
    "operation_row",
    "synthetic_id",
]

TEMPLATE_RECIPIENTS = 10
MESSAGES_PER_MS = 100  # clones get ids spread as a fan-out at 100,000 Messages/s would


@dataclass(frozen=True)
class Template:
    """A delivered Message row and its (COMPLETED) operation row, by column name."""

    message: dict[str, Any]
    operation: dict[str, Any]

    @property
    def message_columns(self) -> tuple[str, ...]:
        return tuple(self.message)

    @property
    def operation_columns(self) -> tuple[str, ...]:
        return tuple(self.operation)


def synthetic_id(prefix: str, time_part: str, counter: int) -> str:
    """A ULID-shaped id: 10 chars of time, then a 16-digit counter (digits are valid
    Crockford base32), so ids sort by creation as real ones do."""
    return f"{prefix}{time_part}{counter:016d}"


def _time_part(epoch_ms: int) -> str:
    return str(ULID.from_timestamp(epoch_ms / 1000)).lower()[:10]


async def _send_template_operation(server: ServerProcess) -> str:
    async with Api(server.url, server.credentials.auth) as api:
        operation_id = await api.send(send_body(TEMPLATE_RECIPIENTS))
        await api.wait_completed([operation_id], within_s=60, interval=0.05)
        return operation_id


def _sqlite_rows(path: str, operation_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    conn = sqlite3.connect(path)
    try:
        rows = []
        for sql in (
            "SELECT * FROM messages WHERE operation_id = ? ORDER BY id LIMIT 1",
            "SELECT * FROM operations WHERE id = ?",
        ):
            cursor = conn.execute(sql, (operation_id,))
            names = [d[0] for d in cursor.description]
            rows.append(dict(zip(names, cursor.fetchone(), strict=True)))
        return rows[0], rows[1]
    finally:
        conn.close()


async def _postgres_rows(url: str, operation_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    conn = await asyncpg.connect(url)
    try:
        message = await conn.fetchrow(
            "SELECT * FROM messages WHERE operation_id = $1 ORDER BY id LIMIT 1", operation_id
        )
        operation = await conn.fetchrow("SELECT * FROM operations WHERE id = $1", operation_id)
        return dict(message.items()), dict(operation.items())
    finally:
        await conn.close()


def capture_template(database_url: str, directory: Any, credentials: Credentials) -> Template:
    """Send a small operation through a real server on `database_url`, wait for it to
    complete, stop the server and read its rows back."""
    with ServerProcess(database_url, directory, credentials=credentials) as server:
        operation_id = asyncio.run(_send_template_operation(server))
    if database_url.startswith("sqlite:"):
        message, operation = _sqlite_rows(database_url.removeprefix("sqlite:///"), operation_id)
    else:
        message, operation = asyncio.run(_postgres_rows(database_url, operation_id))
    if message["status"] not in ("DELIVERED", "READ") or operation["status"] != "COMPLETED":
        raise AssertionError(f"template operation did not complete cleanly: {operation}")
    return Template(message, operation)


def clone_messages(
    template: Template, operation_id: str, count: int, *, start_ms: int | None = None
) -> Iterator[tuple[Any, ...]]:
    """`count` Message rows of `operation_id`, in the template's column order, oldest first."""
    start_ms = int(time.time() * 1000) if start_ms is None else start_ms
    columns = template.message_columns
    address = phone_number(template.message["recipient_index"])
    # text columns that name the recipient's address: split once, joined per clone
    split = {c: v.split(address) for c, v in template.message.items() if isinstance(v, str)}
    addressed = [c for c, parts in split.items() if len(parts) > 1 and c != "id"]
    base = dict(template.message)
    base["operation_id"] = operation_id
    time_part, bucket = "", -1
    for index in range(count):
        if index // MESSAGES_PER_MS != bucket:
            bucket = index // MESSAGES_PER_MS
            time_part = _time_part(start_ms + bucket)
        row = dict(base)
        now = start_ms + bucket
        row["id"] = synthetic_id("comms_message_", time_part, index)
        row["recipient_index"] = index
        row["created_at"] = row["updated_at"] = now
        if row.get("current_attempt_id"):
            row["current_attempt_id"] = f"SM{index:032x}"
        number = phone_number(index)
        for column in addressed:
            row[column] = number.join(split[column])
        yield tuple(row[c] for c in columns)


def operation_row(template: Template, operation_id: str, count: int) -> tuple[Any, ...]:
    """The operation row for `count` clones: every counter scaled from the template's,
    so `recipients = total + unaddressable` and the status counters sum to `total`."""
    row = dict(template.operation)
    scale_from = int(row["total"])
    counters = [
        c
        for c, v in row.items()
        if isinstance(v, int) and c not in ("created_at", "updated_at", "send_at", "txid")
    ]
    for column in counters:
        row[column] = int(row[column]) * count // scale_from
    row["id"] = operation_id
    now = int(time.time() * 1000)
    row["created_at"] = row["updated_at"] = now
    return tuple(row[c] for c in template.operation_columns)


def _sqlite_insert(
    path: str, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> int:
    """executemany in one transaction (WAL, synchronous=NORMAL, as the server opens it)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        marks = ", ".join("?" * len(columns))
        conn.execute("BEGIN IMMEDIATE")
        cursor = conn.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
        )
        conn.execute("COMMIT")
        return cursor.rowcount
    finally:
        conn.close()


async def _postgres_insert(
    url: str, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> int:
    """Binary COPY (copy_records_to_table), the server's own bulk path on PostgreSQL."""
    counted = [0]

    def counting() -> Iterator[tuple[Any, ...]]:
        for row in rows:
            counted[0] += 1
            yield row

    conn = await asyncpg.connect(url)
    try:
        await conn.copy_records_to_table(table, records=counting(), columns=list(columns))
        return counted[0]
    finally:
        await conn.close()


def insert_rows(
    database_url: str, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> int:
    """Insert `rows` with the driver alone; the count inserted."""
    if database_url.startswith("sqlite:"):
        return _sqlite_insert(database_url.removeprefix("sqlite:///"), table, columns, rows)
    return asyncio.run(_postgres_insert(database_url, table, columns, rows))
