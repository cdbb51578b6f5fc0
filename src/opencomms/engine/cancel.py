"""Cancel: a whole operation, or one Message, as long as no channel has it yet.

Race-free by construction: the cancel and the dispatcher's claim both run in a
transaction over the same rows (one writer on SQLite; row locks on PostgreSQL), and the
cancel only takes Messages whose attempt is not in flight. So a Message is either
canceled or handed to a channel, never both, with exactly one `canceled` event.
"""

from __future__ import annotations

from enum import Enum, auto

from msgspec.structs import replace

from opencomms.domain.clock import now_ms
from opencomms.domain.message_state import MessageState
from opencomms.domain.statuses import MessageStatus, OperationStatus
from opencomms.engine.outcomes import OutcomeBatch
from opencomms.store import cancellation, events, messages, operations
from opencomms.store.database import Conn
from opencomms.store.events import message_event

__all__ = ["CancelOutcome", "cancel_message", "cancel_operation"]


class CancelOutcome(Enum):
    CANCELED = auto()
    NOT_FOUND = auto()
    TOO_LATE = auto()  # COMPLETED, or already handed to a channel


async def _cancel(conn: Conn, account_sid: str, waiting: list[MessageState], now: int) -> None:
    batch = OutcomeBatch(now, {})
    for message in waiting:
        batch.messages[message.id] = message
        batch.update_message(
            replace(message, status=MessageStatus.CANCELED, settled=True, due_at=None)
        )
    await batch.save(conn)
    await events.insert_events(
        conn,
        [
            message_event(
                account_sid, m.operation_id, m.id, m.current_attempt_id, MessageStatus.CANCELED, now
            )
            for m in waiting
        ],
    )


async def cancel_operation(conn: Conn, account_sid: str, operation_id: str) -> CancelOutcome:
    """Cancel every Message of the operation not yet handed to a channel; recipients not
    fanned out yet become CANCELED Messages when the fan-out reaches them."""
    status = await cancellation.lock_operation(conn, account_sid, operation_id)
    if status is None:
        return CancelOutcome.NOT_FOUND
    if status == OperationStatus.COMPLETED:
        return CancelOutcome.TOO_LATE
    if status == OperationStatus.CANCELED:
        return CancelOutcome.CANCELED
    now = now_ms()
    await operations.set_status(conn, operation_id, OperationStatus.CANCELED, now)
    waiting = await cancellation.cancelable_messages(conn, operation_id=operation_id)
    await _cancel(conn, account_sid, waiting, now)
    return CancelOutcome.CANCELED


async def cancel_message(conn: Conn, account_sid: str, message_id: str) -> CancelOutcome:
    if await messages.get_message(conn, account_sid, message_id) is None:
        return CancelOutcome.NOT_FOUND
    waiting = await cancellation.cancelable_messages(conn, message_id=message_id)
    if not waiting:
        return CancelOutcome.TOO_LATE
    await _cancel(conn, account_sid, waiting, now_ms())
    return CancelOutcome.CANCELED
