"""The events outbox: written with the changes that cause them, read in commit order.

Rows are small (ids, type, status, error); the delivery worker renders each event's full
`data` when it sends it, from the attempt, Message and operation rows, which do not
change in the fields it uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from opencomms.store.database import Conn

__all__ = [
    "EVENT_COLUMNS",
    "INBOUND_RECEIVED",
    "EventRow",
    "attempt_event",
    "insert_events",
    "message_event",
    "operation_event",
]

OPERATION_PREFIX = "com.twilio.comms-api.operation."
MESSAGE_PREFIX = "com.twilio.comms-api.message."
INBOUND_RECEIVED = MESSAGE_PREFIX + "inbound-received"


class EventRow(NamedTuple):
    account_sid: str
    type: str
    operation_id: str
    message_id: str | None
    attempt_id: str | None
    status: str | None
    error_code: int | None
    error_message: str | None
    created_at: int


EVENT_COLUMNS = EventRow._fields


def operation_event(account_sid: str, operation_id: str, name: str, now: int) -> EventRow:
    """`com.twilio.comms-api.operation.<name>` (scheduled, processing, completed)."""
    return EventRow(
        account_sid, OPERATION_PREFIX + name, operation_id, None, None, None, None, None, now
    )


def message_event(
    account_sid: str,
    operation_id: str,
    message_id: str,
    attempt_id: str | None,
    status: str,
    now: int,
) -> EventRow:
    """`com.twilio.comms-api.message.<status>` of a Message itself (CANCELED, which may
    come before any attempt was made)."""
    return EventRow(
        account_sid, MESSAGE_PREFIX + status.lower(), operation_id, message_id, attempt_id,
        status, None, None, now,
    )  # fmt: skip


def attempt_event(
    account_sid: str,
    operation_id: str,
    message_id: str,
    attempt_id: str,
    status: str,
    error: tuple[int | None, str | None],
    now: int,
) -> EventRow:
    """`com.twilio.comms-api.message.<status>` for one attempt's status change."""
    return EventRow(
        account_sid,
        MESSAGE_PREFIX + status.lower(),
        operation_id,
        message_id,
        attempt_id,
        status,
        error[0],
        error[1],
        now,
    )


async def insert_events(conn: Conn, rows: Sequence[EventRow]) -> None:
    await conn.insert_many("events", EVENT_COLUMNS, rows)
