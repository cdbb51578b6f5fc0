"""What a cancel may touch: Messages not yet handed to a channel, locked while it decides.

A Message is handed to a channel once its current attempt is in flight (claimed for a
submit) or beyond; before that — SCHEDULED, or QUEUED for a first attempt, a fallback or
a throttled retry — it can be canceled. The rows are locked (PostgreSQL) and the
attempts read afterwards, so a claim that won the race is seen, never overwritten.
"""

from __future__ import annotations

from opencomms.domain.message_state import MessageState
from opencomms.store.database import Conn, placeholders
from opencomms.store.dispatch_state import message_states

__all__ = ["cancelable_messages", "lock_operation"]


async def lock_operation(conn: Conn, account_sid: str, operation_id: str) -> str | None:
    """The operation's status, its row locked for the rest of the transaction."""
    lock = " FOR UPDATE" if conn.dialect == "postgresql" else ""
    row = await conn.fetchrow(
        f"SELECT status FROM operations WHERE id = ? AND account_sid = ?{lock}",
        operation_id,
        account_sid,
    )
    return None if row is None else str(row[0])


async def cancelable_messages(
    conn: Conn, *, operation_id: str | None = None, message_id: str | None = None
) -> list[MessageState]:
    """The Messages (of an operation, or one) that no channel has been handed yet."""
    column, key = ("operation_id", operation_id) if operation_id else ("id", message_id)
    waiting = await message_states(
        conn, f"m.{column} = ? AND m.status IN ('SCHEDULED', 'QUEUED')", key, lock=True
    )
    current = [m.current_attempt_id for m in waiting if m.current_attempt_id]
    in_flight: set[str] = set()
    for start in range(0, len(current), 1000):
        chunk = current[start : start + 1000]
        rows = await conn.fetch(
            f"SELECT id FROM attempts WHERE in_flight = 1 AND id IN ({placeholders(len(chunk))})",
            *chunk,
        )
        in_flight |= {row[0] for row in rows}
    return [m for m in waiting if m.current_attempt_id not in in_flight]
