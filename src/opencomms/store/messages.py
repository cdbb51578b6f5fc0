"""Reading Messages: fetch one with its attempts, list with filters and keyset paging."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from opencomms.store.database import Conn
from opencomms.store.jsoncol import load
from opencomms.store.records import AttemptRecord, MessageRecord

__all__ = [
    "MessageFilters",
    "bounded_above",
    "get_message",
    "list_attempts",
    "list_messages",
    "message_of_attempt",
]

_COLUMNS = (
    "id, account_sid, operation_id, status, recipient, content, tags, channel, sender,"
    " scheduled_for, encoding, segments, error_code, error_message, created_at, updated_at"
)
_ATTEMPT_COLUMNS = (
    "id, message_id, number, sender_id, channel, from_address, to_address, to_channel,"
    " status, error_code, error_message, attempted_at, updated_at"
)


def bounded_above(before: str, prefix: str) -> bool:
    """Whether `before` bounds the ids of `prefix`: a bound past all of them (the pager's
    `~` top) is no bound and stays out of the SQL. PostgreSQL compares text with the
    database's collation, where `~` may sort before letters (ICU, en_US): `id < '~'`
    would then match nothing. Ids themselves (one prefix, then [0-9a-z]) sort the same
    in every collation."""
    return before < prefix + "~"


def _message(row: Sequence[Any]) -> MessageRecord:
    values = list(row)
    for index in (4, 5, 6, 8):
        values[index] = load(values[index])
    return MessageRecord(*values)


class MessageFilters(NamedTuple):
    """Filters of `GET /v1/Messages`; id bounds come from the dates and the page token."""

    before: str
    since: str
    operation_id: str | None = None
    status: str | None = None
    channel: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    address: str | None = None  # a recipient's address an attempt was made to


async def get_message(conn: Conn, account_sid: str, message_id: str) -> MessageRecord | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM messages WHERE id = ? AND account_sid = ?",
        message_id,
        account_sid,
    )
    return None if row is None else _message(row)


async def list_attempts(conn: Conn, message_id: str) -> list[AttemptRecord]:
    rows = await conn.fetch(
        f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE message_id = ? ORDER BY number",
        message_id,
    )
    return [AttemptRecord(*row) for row in rows]


async def message_of_attempt(conn: Conn, account_sid: str, attempt_id: str) -> str | None:
    """The id of the Message `attempt_id` (the attempts' primary key) was made for."""
    row = await conn.fetchrow(
        "SELECT message_id FROM attempts WHERE id = ? AND account_sid = ?", attempt_id, account_sid
    )
    return None if row is None else str(row[0])


async def list_messages(
    conn: Conn, account_sid: str, filters: MessageFilters, limit: int
) -> list[MessageRecord]:
    """A page of Messages, newest first: a range scan on an (owner, id) index at any depth."""
    if filters.operation_id is not None:
        clauses = ["operation_id = ?", "account_sid = ?"]
        args: list[Any] = [filters.operation_id, account_sid]
    else:
        clauses, args = ["account_sid = ?"], [account_sid]
    if bounded_above(filters.before, "comms_message_"):
        clauses.append("id < ?")
        args.append(filters.before)
    if filters.since:
        clauses.append("id >= ?")
        args.append(filters.since)
    for column, value in (("status", filters.status), ("channel", filters.channel)):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    for key, value in filters.tags:
        clauses.append(
            "EXISTS (SELECT 1 FROM message_tags t"
            " WHERE t.message_id = messages.id AND t.key = ? AND t.value = ?)"
        )
        args += [key, value]
    if filters.address is not None:  # ix_attempts_to_address
        clauses.append("id IN (SELECT message_id FROM attempts WHERE to_address = ?)")
        args.append(filters.address)
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM messages WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT ?",
        *args,
        limit,
    )
    return [_message(row) for row in rows]
