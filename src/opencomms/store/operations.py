"""Operations: accept (one transaction with their recipients and fan-out job), read, count.

Stats are counters on the operation row, moved by batched deltas as statuses change,
so reading an operation costs one primary-key lookup whatever its size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opencomms.domain.lifecycle import StatDeltas
from opencomms.store import events, jobs
from opencomms.store.database import Conn, placeholders
from opencomms.store.events import operation_event
from opencomms.store.jsoncol import dump, load
from opencomms.store.records import STAT_COLUMNS, OperationRecord

__all__ = [
    "apply_stat_deltas",
    "complete_settled",
    "get_operation",
    "insert_operation",
    "list_operations",
    "set_status",
    "start_scheduled",
]

# While fan-out runs, `recipients` shows the recipients fanned out so far, so that
# recipients = total + unaddressable holds at every moment, not only at the end.
_STATS = ", ".join("fanout_cursor" if c == "recipients" else c for c in STAT_COLUMNS)
_COLUMNS = f"id, account_sid, status, spec, {_STATS}, created_at, updated_at"
_COUNTERS = (*STAT_COLUMNS[1:], "settled")  # every counter but `recipients`


# the names of _COLUMNS, as an OperationRecord reads them
_NAMES = ("id", "account_sid", "status", "spec", *STAT_COLUMNS, "created_at", "updated_at")


def _operation(row: Sequence[Any]) -> OperationRecord:
    named = dict(zip(_NAMES, row, strict=True))
    return OperationRecord(
        id=named["id"],
        account_sid=named["account_sid"],
        status=named["status"],
        spec=load(named["spec"]),
        stats={column: named[column] for column in STAT_COLUMNS},
        created_at=named["created_at"],
        updated_at=named["updated_at"],
    )


async def insert_operation(
    conn: Conn,
    *,
    operation_id: str,
    account_sid: str,
    status: str,
    spec: dict[str, Any],
    recipients: bytes,
    recipient_count: int,
    send_at: int | None,
    now: int,
) -> None:
    """Store an accepted operation with its recipients and the job that fans it out."""
    zeros = ", ".join("0" for _ in _COUNTERS)
    await conn.execute(
        f"INSERT INTO operations (id, account_sid, status, spec, recipients,"
        f" {', '.join(_COUNTERS)}, fanout_cursor, send_at, created_at, updated_at)"
        f" VALUES (?, ?, ?, ?, ?, {zeros}, 0, ?, ?, ?)",
        operation_id,
        account_sid,
        status,
        dump(spec),
        recipient_count,
        send_at,
        now,
        now,
    )
    await conn.execute(
        "INSERT INTO operation_recipients (operation_id, recipients) VALUES (?, ?)",
        operation_id,
        recipients.decode(),
    )
    await jobs.enqueue(
        conn,
        "fanout",
        operation_id,
        run_at=now,
        now=now,
        account_sid=account_sid,
        size=recipient_count,
    )
    if status == "SCHEDULED":
        await events.insert_events(
            conn, [operation_event(account_sid, operation_id, "scheduled", now)]
        )


async def get_operation(conn: Conn, account_sid: str, operation_id: str) -> OperationRecord | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM operations WHERE id = ? AND account_sid = ?",
        operation_id,
        account_sid,
    )
    return None if row is None else _operation(row)


async def list_operations(
    conn: Conn,
    account_sid: str,
    *,
    before: str,
    since: str,
    status: str | None,
    limit: int,
) -> list[OperationRecord]:
    """A page of operations, newest first, with ids in [since, before)."""
    status_clause = " AND status = ?" if status else ""
    args: list[Any] = [account_sid, before, since, *([status] if status else []), limit]
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM operations WHERE account_sid = ? AND id < ? AND id >= ?"
        f"{status_clause} ORDER BY id DESC LIMIT ?",
        *args,
    )
    return [_operation(row) for row in rows]


async def apply_stat_deltas(conn: Conn, deltas: StatDeltas, now: int) -> None:
    """Add each operation's gathered deltas to its counters: one UPDATE per operation."""
    sets = ", ".join(f"{column} = {column} + ?" for column in _COUNTERS)
    rows = [
        (*(counter.get(column, 0) for column in _COUNTERS), now, operation_id)
        for operation_id, counter in deltas.by_operation.items()
        if any(counter.values())
    ]
    await conn.executemany(
        f"UPDATE operations SET {sets}, updated_at = ? WHERE id = ?",
        sorted(rows, key=lambda r: r[-1]),
    )


async def complete_settled(conn: Conn, operation_ids: Sequence[str], now: int) -> list[str]:
    """Mark COMPLETED the operations among these whose every Message has settled,
    with their `completed` event; their ids."""
    if not operation_ids:
        return []
    ids = sorted(set(operation_ids))
    rows = await conn.fetch(
        f"UPDATE operations SET status = 'COMPLETED', updated_at = ?"
        f" WHERE id IN ({placeholders(len(ids))}) AND status IN ('PROCESSING', 'SCHEDULED')"
        f" AND fanout_cursor = recipients AND settled = total RETURNING id, account_sid",
        now,
        *ids,
    )
    await events.insert_events(
        conn, [operation_event(row[1], row[0], "completed", now) for row in rows]
    )
    return [row[0] for row in rows]


async def start_scheduled(conn: Conn, operation_ids: Sequence[str], now: int) -> list[str]:
    """SCHEDULED operations whose first Message is being sent become PROCESSING (with
    their `processing` event)."""
    if not operation_ids:
        return []
    ids = sorted(set(operation_ids))
    rows = await conn.fetch(
        f"UPDATE operations SET status = 'PROCESSING', updated_at = ?"
        f" WHERE id IN ({placeholders(len(ids))}) AND status = 'SCHEDULED'"
        f" RETURNING id, account_sid",
        now,
        *ids,
    )
    await events.insert_events(
        conn, [operation_event(row[1], row[0], "processing", now) for row in rows]
    )
    return [row[0] for row in rows]


async def set_status(conn: Conn, operation_id: str, status: str, now: int) -> None:
    await conn.execute(
        "UPDATE operations SET status = ?, updated_at = ? WHERE id = ?", status, now, operation_id
    )
