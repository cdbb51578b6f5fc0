"""Deleting data past its retention, a small batch per call.

Each intent deletes at most `limit` rows of one kind (or the rows hanging off `limit`
Messages), found through an index in age order, and returns how many it deleted: the
pruner (engine/pruning.py) calls it again until it returns 0, pausing between calls, so
no transaction is long and sending never waits behind one.

An expired operation is first replaced by its record in `pruned_operations` (one short
transaction: from then on it answers 404 with the reason), then what hung off it is
deleted batch by batch; a crash in between resumes from the records not yet `cleared`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from opencomms.store.database import Conn, placeholders
from opencomms.store.sinks import SinkRecord

__all__ = [
    "Position",
    "PrunedOperation",
    "active_sinks",
    "clear_pruned_operation",
    "forget_pruned_operations",
    "prune_events",
    "prune_idempotency_keys",
    "prune_inbound",
    "prune_sink_deliveries",
    "pruned_operation",
    "pruned_with_message",
    "retire_operation",
]

Position = tuple[int, int]
"""(txid, seq): a place in the outbox's commit order."""


class PrunedOperation(NamedTuple):
    id: str
    account_sid: str
    finished_at: int
    pruned_at: int


_PRUNED = "id, account_sid, finished_at, pruned_at"
_FINISHED = "status IN ('COMPLETED', 'CANCELED') AND fanout_cursor = recipients AND settled = total"


async def retire_operation(conn: Conn, finished_before: int, now: int) -> int:
    """Replace the oldest operation finished before `finished_before` by its record in
    `pruned_operations`; 1, or 0 when there is none."""
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect == "postgresql" else ""
    row = await conn.fetchrow(
        f"SELECT id, account_sid, updated_at FROM operations WHERE {_FINISHED}"
        f" AND updated_at < ? ORDER BY updated_at LIMIT 1{lock}",
        finished_before,
    )
    if row is None:
        return 0
    operation_id, account_sid, finished_at = row
    first, last = await _message_id_range(conn, operation_id)
    await conn.execute("DELETE FROM operations WHERE id = ?", operation_id)
    await conn.execute(
        "INSERT INTO pruned_operations (id, account_sid, first_message_id, last_message_id,"
        " finished_at, pruned_at, cleared) VALUES (?, ?, ?, ?, ?, ?, 0)",
        operation_id, account_sid, first, last, finished_at, now,
    )  # fmt: skip
    return 1


async def _message_id_range(conn: Conn, operation_id: str) -> tuple[str | None, str | None]:
    """The lowest and highest Message id of the operation: two index lookups."""
    ends = []
    for order in ("", " DESC"):
        row = await conn.fetchrow(
            f"SELECT id FROM messages WHERE operation_id = ? ORDER BY id{order} LIMIT 1",
            operation_id,
        )
        ends.append(None if row is None else row[0])
    return ends[0], ends[1]


async def clear_pruned_operation(conn: Conn, limit: int) -> int:
    """Delete the next batch of rows of an operation retired and not yet cleared:
    `limit` Messages with their attempts, parts and tags, or `limit` of its events, or
    of its unaddressable recipients, then the rest. The number of rows deleted (or 1 for
    marking it cleared); 0 when every retired operation is cleared."""
    row = await conn.fetchrow(
        "SELECT id FROM pruned_operations WHERE cleared = 0 ORDER BY pruned_at LIMIT 1"
    )
    if row is None:
        return 0
    operation_id: str = row[0]
    for step in (_delete_messages, _delete_events, _delete_unaddressable):
        deleted = await step(conn, operation_id, limit)
        if deleted:
            return deleted
    for table in ("operation_recipients", "operation_callbacks"):
        await conn.execute(f"DELETE FROM {table} WHERE operation_id = ?", operation_id)
    await conn.execute("DELETE FROM jobs WHERE kind = 'fanout' AND ref = ?", operation_id)
    await conn.execute("UPDATE pruned_operations SET cleared = 1 WHERE id = ?", operation_id)
    return 1


async def _delete_messages(conn: Conn, operation_id: str, limit: int) -> int:
    rows = await conn.fetch(
        "SELECT id FROM messages WHERE operation_id = ? ORDER BY id LIMIT ?", operation_id, limit
    )
    message_ids = [row[0] for row in rows]
    if not message_ids:
        return 0
    marks = placeholders(len(message_ids))
    attempt_rows = await conn.fetch(
        f"SELECT id FROM attempts WHERE message_id IN ({marks})", *message_ids
    )
    attempt_ids = [row[0] for row in attempt_rows]
    deleted = 0
    if attempt_ids:
        attempt_marks = placeholders(len(attempt_ids))
        deleted += await conn.execute(
            f"DELETE FROM attempt_parts WHERE attempt_id IN ({attempt_marks})", *attempt_ids
        )
        deleted += await conn.execute(
            f"DELETE FROM attempts WHERE id IN ({attempt_marks})", *attempt_ids
        )
    deleted += await conn.execute(
        f"DELETE FROM message_tags WHERE message_id IN ({marks})", *message_ids
    )
    return deleted + await conn.execute(f"DELETE FROM messages WHERE id IN ({marks})", *message_ids)


# The newest event always stays: on SQLite `seq` is a rowid, and an emptied table would
# number its next events from 1 again, behind every sink's cursor (and the outbox watch).
_NOT_NEWEST = "seq < (SELECT MAX(seq) FROM events)"


async def _delete_events(conn: Conn, operation_id: str, limit: int) -> int:
    return await conn.execute(
        "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE operation_id = ?"
        f" AND {_NOT_NEWEST} LIMIT ?)",
        operation_id,
        limit,
    )


async def _delete_unaddressable(conn: Conn, operation_id: str, limit: int) -> int:
    return await conn.execute(
        "DELETE FROM unaddressable WHERE operation_id = ? AND recipient_index IN"
        " (SELECT recipient_index FROM unaddressable WHERE operation_id = ?"
        "  ORDER BY recipient_index LIMIT ?)",
        operation_id,
        operation_id,
        limit,
    )


async def forget_pruned_operations(conn: Conn, pruned_before: int, limit: int) -> int:
    """Delete the records of operations cleared before `pruned_before`."""
    return await conn.execute(
        "DELETE FROM pruned_operations WHERE id IN (SELECT id FROM pruned_operations"
        " WHERE cleared = 1 AND pruned_at < ? ORDER BY pruned_at LIMIT ?)",
        pruned_before,
        limit,
    )


async def pruned_operation(
    conn: Conn, account_sid: str, operation_id: str
) -> PrunedOperation | None:
    row = await conn.fetchrow(
        f"SELECT {_PRUNED} FROM pruned_operations WHERE id = ? AND account_sid = ?",
        operation_id,
        account_sid,
    )
    return None if row is None else PrunedOperation(*row)


async def pruned_with_message(
    conn: Conn, account_sid: str, message_id: str
) -> PrunedOperation | None:
    """The pruned operation of the account whose Messages' ids span `message_id`: the
    Message, which is not found, went with it (ids are made in time order)."""
    row = await conn.fetchrow(
        f"SELECT {_PRUNED} FROM pruned_operations WHERE account_sid = ?"
        " AND first_message_id <= ? AND last_message_id >= ? ORDER BY first_message_id DESC"
        " LIMIT 1",
        account_sid,
        message_id,
        message_id,
    )
    return None if row is None else PrunedOperation(*row)


async def active_sinks(conn: Conn) -> list[SinkRecord]:
    rows = await conn.fetch(
        f"SELECT {', '.join(SinkRecord._fields)} FROM sinks WHERE status = 'ACTIVE'"
    )
    return [SinkRecord(*row) for row in rows]


async def prune_events(
    conn: Conn, created_before: int, holds: Mapping[str, Position], limit: int
) -> int:
    """Delete up to `limit` events written before `created_before`, but none at or after
    an account's hold (the first event that one of its sinks has still to deliver), nor
    the newest."""
    deleted = 0
    for account_sid, (txid, seq) in sorted(holds.items()):
        deleted += await conn.execute(
            "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE account_sid = ?"
            f" AND created_at < ? AND (txid < ? OR (txid = ? AND seq < ?)) AND {_NOT_NEWEST}"
            " ORDER BY txid, seq LIMIT ?)",
            account_sid, created_before, txid, txid, seq, limit - deleted,
        )  # fmt: skip
        if deleted >= limit:
            return deleted
    held = sorted(holds)
    unheld = f" AND account_sid NOT IN ({placeholders(len(held))})" if held else ""
    return deleted + await conn.execute(
        "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE created_at < ?"
        f"{unheld} AND {_NOT_NEWEST} ORDER BY created_at LIMIT ?)",
        created_before,
        *held,
        limit - deleted,
    )


async def _delete_oldest(
    conn: Conn, table: str, keys: Sequence[str], age: str, before: int, limit: int
) -> int:
    """Delete up to `limit` rows of `table` whose `age` column is below `before`, found
    oldest first through the index on `age`, deleted by their primary key `keys`."""
    columns = ", ".join(keys)
    rows = await conn.fetch(
        f"SELECT {columns} FROM {table} WHERE {age} < ? ORDER BY {age} LIMIT ?", before, limit
    )
    if not rows:
        return 0
    match = " AND ".join(f"{key} = ?" for key in keys)
    await conn.executemany(f"DELETE FROM {table} WHERE {match}", [tuple(row) for row in rows])
    return len(rows)


async def prune_idempotency_keys(conn: Conn, created_before: int, limit: int) -> int:
    return await _delete_oldest(
        conn, "idempotency_keys", ("account_sid", "key"), "created_at", created_before, limit
    )


async def prune_inbound(conn: Conn, received_before: int, limit: int) -> int:
    """Inbound messages received before `received_before`, of any account or of none."""
    return await _delete_oldest(
        conn, "inbound_messages", ("id",), "received_at", received_before, limit
    )


async def prune_sink_deliveries(conn: Conn, attempted_before: int, limit: int) -> int:
    return await _delete_oldest(
        conn, "sink_deliveries", ("id",), "attempted_at", attempted_before, limit
    )
