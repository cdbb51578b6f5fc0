"""The events outbox: written with the changes that cause them, read in commit order.

Only events that some sink will want are written (`insert_events`). Rows are small (ids,
type, status, error); the delivery worker renders each event's full `data` when it sends
it, from the attempt, Message and operation rows, which do not change in the fields it
uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from opencomms.domain.event_types import (
    MESSAGE_INBOUND_RECEIVED,
    OperationStep,
    message_event_type,
    operation_event_type,
)
from opencomms.store.database import Conn, placeholders

__all__ = [
    "EVENTS_TABLE",
    "EVENT_COLUMNS",
    "EventRow",
    "attempt_event",
    "inbound_event",
    "insert_events",
    "message_event",
    "operation_event",
]


EVENTS_TABLE = "events"


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


def operation_event(account_sid: str, operation_id: str, step: OperationStep, now: int) -> EventRow:
    """`com.twilio.comms-api.operation.<step>` (scheduled, processing, completed)."""
    return EventRow(
        account_sid, operation_event_type(step), operation_id, None, None, None, None, None, now
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
        account_sid, message_event_type(status), operation_id, message_id, attempt_id,
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
        message_event_type(status),
        operation_id,
        message_id,
        attempt_id,
        status,
        error[0],
        error[1],
        now,
    )


def inbound_event(account_sid: str, inbound_id: str, received_at: int) -> EventRow:
    """`com.twilio.comms-api.message.inbound-received`: a message received for the
    account (it belongs to no operation)."""
    return EventRow(
        account_sid, MESSAGE_INBOUND_RECEIVED, "", inbound_id, None, "RECEIVED", None, None,
        received_at,
    )  # fmt: skip


async def insert_events(conn: Conn, rows: Sequence[EventRow]) -> None:
    """Write the events that have somewhere to go: those of an account with an active
    sink subscribed to something, and those of an operation sent with `callbacks`. The
    others would only be kept to be deleted; a sink made later starts after them anyway.
    """
    if not rows:
        return
    subscribed = await _subscribed_accounts(conn, sorted({row.account_sid for row in rows}))
    called_back = await _called_back(
        conn, sorted({row.operation_id for row in rows if row.account_sid not in subscribed})
    )
    wanted = [
        row for row in rows if row.account_sid in subscribed or row.operation_id in called_back
    ]
    await conn.insert_many(EVENTS_TABLE, EVENT_COLUMNS, wanted)


async def _subscribed_accounts(conn: Conn, account_sids: Sequence[str]) -> set[str]:
    rows = await conn.fetch(
        "SELECT DISTINCT s.account_sid FROM sinks s"
        f" WHERE s.account_sid IN ({placeholders(len(account_sids))}) AND s.status = 'ACTIVE'"
        " AND EXISTS (SELECT 1 FROM subscriptions u WHERE u.sink_id = s.id)",
        *account_sids,
    )
    return {row[0] for row in rows}


async def _called_back(conn: Conn, operation_ids: Sequence[str]) -> set[str]:
    """The operations among these whose events also go to a `callbacks.url`."""
    if not operation_ids:
        return set()
    rows = await conn.fetch(
        "SELECT operation_id FROM operation_callbacks"
        f" WHERE operation_id IN ({placeholders(len(operation_ids))})",
        *operation_ids,
    )
    return {row[0] for row in rows}
