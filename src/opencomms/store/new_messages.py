"""Fan-out: turning an operation's stored recipients into Messages, chunk by chunk.

Each chunk is one transaction that inserts its Messages with the engine's bulk path and
advances the operation's `fanout_cursor`; the cursor check makes a replayed chunk a
no-op, so every recipient gets exactly one Message even across crashes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, NamedTuple

from opencomms.store import events, jobs
from opencomms.store.database import Conn
from opencomms.store.events import message_event, operation_event
from opencomms.store.jsoncol import load

__all__ = ["MESSAGE_COLUMNS", "FanoutWork", "insert_chunk", "load_work"]

MESSAGE_COLUMNS = (
    "id",
    "account_sid",
    "operation_id",
    "recipient_index",
    "status",
    "recipient",
    "candidates",
    "candidate_count",
    "content",
    "tags",
    "channel",
    "sender",
    "attempt_count",
    "next_candidate",
    "current_attempt_id",
    "settled",
    "due_at",
    "scheduled_for",
    "encoding",
    "segments",
    "error_code",
    "error_message",
    "created_at",
    "updated_at",
)


_STATUS, _SETTLED, _DUE = (MESSAGE_COLUMNS.index(c) for c in ("status", "settled", "due_at"))


def _canceled(row: Sequence[Any]) -> tuple[Any, ...]:
    values = list(row)
    values[_STATUS], values[_SETTLED], values[_DUE] = "CANCELED", 1, None
    return tuple(values)


class FanoutWork(NamedTuple):
    operation_id: str
    account_sid: str
    status: str
    spec: dict[str, Any]
    cursor: int
    recipients: list[dict[str, Any]]
    send_at: int | None


async def load_work(conn: Conn, operation_id: str) -> FanoutWork | None:
    row = await conn.fetchrow(
        "SELECT o.account_sid, o.status, o.spec, o.fanout_cursor, r.recipients, o.send_at"
        " FROM operations o JOIN operation_recipients r ON r.operation_id = o.id WHERE o.id = ?",
        operation_id,
    )
    if row is None:
        return None
    return FanoutWork(operation_id, row[0], row[1], load(row[2]), row[3], load(row[4]), row[5])


async def insert_chunk(
    conn: Conn,
    work: FanoutWork,
    *,
    start: int,
    end: int,
    messages: Sequence[Sequence[Any]],
    tags: Sequence[Sequence[Any]],
    unaddressable: Sequence[Sequence[Any]],
    now: int,
) -> bool:
    """Store the Messages of recipients [start, end); False if another worker already did.

    Recipients reached after their operation was canceled become CANCELED Messages."""
    lock = " FOR UPDATE" if conn.dialect == "postgresql" else ""
    row = await conn.fetchrow(
        f"SELECT status FROM operations WHERE id = ?{lock}", work.operation_id
    )
    canceled = row is not None and row[0] == "CANCELED"
    if canceled:
        messages = [_canceled(message) for message in messages]
    buckets = Counter(str(message[_STATUS]).lower() for message in messages)
    buckets["settled"] = sum(message[_SETTLED] for message in messages)
    moves = "".join(f", {bucket} = {bucket} + ?" for bucket in buckets)
    advanced = await conn.execute(
        f"UPDATE operations SET fanout_cursor = ?, total = total + ?,"
        f" unaddressable = unaddressable + ?{moves}, updated_at = ?"
        f" WHERE id = ? AND fanout_cursor = ?",
        end,
        len(messages),
        len(unaddressable),
        *buckets.values(),
        now,
        work.operation_id,
        start,
    )
    if not advanced:
        return False
    await conn.insert_many("messages", MESSAGE_COLUMNS, messages)
    await conn.insert_many("message_tags", ("message_id", "key", "value"), tags)
    await conn.insert_many(
        "unaddressable",
        ("operation_id", "recipient_index", "recipient", "error_code", "error_message"),
        unaddressable,
    )
    # Messages born settled (CANCELED, or FAILED when their template did not render)
    # get their event here, as no attempt will ever report one
    await events.insert_events(
        conn,
        [
            message_event(work.account_sid, work.operation_id, m[0], None, m[_STATUS], now)
            for m in messages
            if m[_SETTLED]
        ],
    )
    if start == 0 and work.status == "PROCESSING":
        await events.insert_events(
            conn, [operation_event(work.account_sid, work.operation_id, "processing", now)]
        )
    if end == len(work.recipients):
        await conn.execute(
            "DELETE FROM operation_recipients WHERE operation_id = ?", work.operation_id
        )
        await jobs.finish(conn, "fanout", work.operation_id)
    return True
