"""Fan-out: turning an operation's stored recipients into Messages, chunk by chunk.

Each chunk is one transaction that inserts its Messages with the engine's bulk path and
advances the operation's `fanout_cursor`; the cursor check makes a replayed chunk a
no-op, so every recipient gets exactly one Message even across crashes. Small operations
are stored many at a time (`insert_batch`): their last chunks in one transaction, with
the same cursor check for each.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

import msgspec
from msgspec.structs import replace

from opencomms.domain.new_messages import FanoutChunk, NewMessage, Unaddressable
from opencomms.domain.recipients import Recipient
from opencomms.store import events, jobs
from opencomms.store.database import Conn, placeholders
from opencomms.store.events import EventRow, message_event, operation_event
from opencomms.store.jsoncol import dump, load

__all__ = [
    "MESSAGE_COLUMNS",
    "FanoutWork",
    "insert_batch",
    "insert_chunk",
    "load_work",
    "load_works",
]


class FanoutWork(msgspec.Struct, frozen=True):
    """An operation whose recipients are being fanned out, from `cursor` on."""

    operation_id: str
    account_sid: str
    status: str
    spec: dict[str, Any]
    cursor: int  # the recipients before it have their Messages
    recipients: list[Recipient]
    send_at: int | None


_recipients = msgspec.json.Decoder(list[Recipient])


_WORK_SELECT = (
    "SELECT o.id, o.account_sid, o.status, o.spec, o.fanout_cursor, r.recipients, o.send_at"
    " FROM operations o JOIN operation_recipients r ON r.operation_id = o.id"
)


def _work(row: Sequence[Any]) -> FanoutWork:
    operation_id, account_sid, status, spec, cursor, recipients, send_at = row
    return FanoutWork(
        operation_id=operation_id,
        account_sid=account_sid,
        status=status,
        spec=load(spec),
        cursor=cursor,
        recipients=_recipients.decode(recipients),
        send_at=send_at,
    )


async def load_work(conn: Conn, operation_id: str) -> FanoutWork | None:
    row = await conn.fetchrow(f"{_WORK_SELECT} WHERE o.id = ?", operation_id)
    return None if row is None else _work(row)


async def load_works(conn: Conn, operation_ids: Sequence[str]) -> list[FanoutWork]:
    """The fan-out work of each of these operations still to fan out, in one query."""
    if not operation_ids:
        return []
    rows = await conn.fetch(
        f"{_WORK_SELECT} WHERE o.id IN ({placeholders(len(operation_ids))})", *operation_ids
    )
    return [_work(row) for row in rows]


# A new Message's row, by column name: the columns copied from the NewMessage as they
# are, those encoded from it (in `_message_row`'s order), and those of no attempt yet.
_COPIED = (
    "id",
    "account_sid",
    "operation_id",
    "recipient_index",
    "status",
    "due_at",
    "scheduled_for",
    "encoding",
    "segments",
    "error_code",
    "error_message",
    "created_at",
)
_ENCODED = ("recipient", "candidates", "candidate_count", "content", "tags", "settled", "sender")
_NO_ATTEMPT_YET = {
    "channel": None,
    "attempt_count": 0,
    "next_candidate": 0,
    "current_attempt_id": None,
}
MESSAGE_COLUMNS = (*_COPIED, *_ENCODED, *_NO_ATTEMPT_YET, "updated_at")
_copied = attrgetter(*_COPIED)
_no_attempt_yet = tuple(_NO_ATTEMPT_YET.values())


def _message_row(m: NewMessage) -> tuple[Any, ...]:
    """`m` as the values of MESSAGE_COLUMNS (the bulk insert takes tuples)."""
    encoded = (
        dump(m.recipient),
        dump(m.candidates),
        len(m.candidates),
        dump(m.content),
        dump(m.tags),
        int(m.settled),
        None if m.sender is None else dump(m.sender),
    )
    return (*_copied(m), *encoded, *_no_attempt_yet, m.created_at)


def _unaddressable_row(operation_id: str, u: Unaddressable) -> tuple[Any, ...]:
    return (operation_id, u.recipient_index, dump(u.recipient), u.error_code, u.error_message)


_UNADDRESSABLE_COLUMNS = (
    "operation_id",
    "recipient_index",
    "recipient",
    "error_code",
    "error_message",
)


def _canceled(message: NewMessage) -> NewMessage:
    return replace(message, status="CANCELED", settled=True, due_at=None)


async def _operation_canceled(conn: Conn, operation_id: str) -> bool:
    """Whether the operation was canceled; its row locked (PostgreSQL) for the rest of the
    transaction, so that a cancel and this chunk do not interleave."""
    lock = " FOR UPDATE" if conn.dialect == "postgresql" else ""
    row = await conn.fetchrow(f"SELECT status FROM operations WHERE id = ?{lock}", operation_id)
    return row is not None and row[0] == "CANCELED"


async def _advance(
    conn: Conn, work: FanoutWork, chunk: FanoutChunk, messages: Sequence[NewMessage], now: int
) -> bool:
    """Move the operation's cursor past `chunk`, with its counters; False if another
    worker already did."""
    buckets = Counter(message.status.lower() for message in messages)
    buckets["settled"] = sum(message.settled for message in messages)
    moves = "".join(f", {bucket} = {bucket} + ?" for bucket in buckets)
    advanced = await conn.execute(
        f"UPDATE operations SET fanout_cursor = ?, total = total + ?,"
        f" unaddressable = unaddressable + ?{moves}, updated_at = ?"
        f" WHERE id = ? AND fanout_cursor = ?",
        chunk.end,
        len(messages),
        len(chunk.unaddressable),
        *buckets.values(),
        now,
        work.operation_id,
        chunk.start,
    )
    return bool(advanced)


async def _insert_rows(
    conn: Conn, work: FanoutWork, chunk: FanoutChunk, messages: Sequence[NewMessage]
) -> None:
    await conn.insert_many("messages", MESSAGE_COLUMNS, [_message_row(m) for m in messages])
    await conn.insert_many(
        "message_tags",
        ("message_id", "key", "value"),
        [(m.id, key, value) for m in messages for key, value in m.tags.items()],
    )
    await conn.insert_many(
        "unaddressable",
        _UNADDRESSABLE_COLUMNS,
        [_unaddressable_row(work.operation_id, u) for u in chunk.unaddressable],
    )


async def insert_chunk(conn: Conn, work: FanoutWork, chunk: FanoutChunk, now: int) -> bool:
    """Store the Messages of `chunk`; False if another worker already did.

    Recipients reached after their operation was canceled become CANCELED Messages."""
    messages: Sequence[NewMessage] = chunk.messages
    if await _operation_canceled(conn, work.operation_id):
        messages = [_canceled(message) for message in messages]
    if not await _advance(conn, work, chunk, messages, now):
        return False
    await _insert_rows(conn, work, chunk, messages)
    # Messages born settled (CANCELED, or FAILED when their template did not render)
    # get their event here, as no attempt will ever report one
    await events.insert_events(
        conn,
        [
            message_event(work.account_sid, work.operation_id, m.id, None, m.status, now)
            for m in messages
            if m.settled
        ],
    )
    if chunk.start == 0 and work.status == "PROCESSING":
        await events.insert_events(
            conn, [operation_event(work.account_sid, work.operation_id, "processing", now)]
        )
    if chunk.end == len(work.recipients):
        await _finish(conn, work.operation_id)
    return True


async def _finish(conn: Conn, operation_id: str) -> None:
    """The last chunk is stored: the recipients and the fan-out job are done with."""
    await conn.execute("DELETE FROM operation_recipients WHERE operation_id = ?", operation_id)
    await jobs.finish(conn, "fanout", operation_id)


class _Stored(msgspec.Struct, frozen=True):
    """An operation of a batch, its last chunk, and the Messages it becomes."""

    work: FanoutWork
    chunk: FanoutChunk
    messages: Sequence[NewMessage]


async def insert_batch(
    conn: Conn, fanned: Sequence[tuple[FanoutWork, FanoutChunk]], now: int
) -> list[str]:
    """Store the last chunk of each of several operations, in this one transaction: the
    ids of those stored (another worker already stored the others: their cursor moved).
    As with `insert_chunk`, the recipients of a canceled operation become CANCELED
    Messages, and each operation's recipients and fan-out job are done with."""
    cursors = await _lock_operations(conn, sorted(work.operation_id for work, _ in fanned))
    kept: list[_Stored] = []
    for work, chunk in fanned:
        found = cursors.get(work.operation_id)
        if found is None or found[1] != chunk.start:
            continue
        messages: Sequence[NewMessage] = chunk.messages
        if found[0] == "CANCELED":
            messages = [_canceled(message) for message in messages]
        kept.append(_Stored(work, chunk, messages))
    if not kept:
        return []
    await _advance_all(conn, kept, now)
    await _insert_all_rows(conn, kept)
    await events.insert_events(conn, _born_settled_events(kept, now))
    ids = sorted(entry.work.operation_id for entry in kept)
    await conn.execute(
        f"DELETE FROM operation_recipients WHERE operation_id IN ({placeholders(len(ids))})", *ids
    )
    await jobs.finish_many(conn, "fanout", ids)
    return ids


async def _lock_operations(conn: Conn, operation_ids: Sequence[str]) -> dict[str, tuple[str, int]]:
    """Each operation's status and fan-out cursor, its row locked (PostgreSQL, in id order)
    for the rest of the transaction, so that neither a cancel nor another worker's chunk
    interleaves with this batch (on SQLite, the one writer is enough)."""
    if not operation_ids:
        return {}
    lock = " ORDER BY id FOR UPDATE" if conn.dialect == "postgresql" else ""
    rows = await conn.fetch(
        f"SELECT id, status, fanout_cursor FROM operations"
        f" WHERE id IN ({placeholders(len(operation_ids))}){lock}",
        *operation_ids,
    )
    return {row[0]: (row[1], row[2]) for row in rows}


async def _advance_all(conn: Conn, kept: Sequence[_Stored], now: int) -> None:
    """Move each operation's cursor past its chunk, with its counters (`_advance`, for
    many at once: their rows are locked, and their cursors were just checked)."""
    counted = [
        (e.work.operation_id, e.chunk, _buckets(e.messages))
        for e in sorted(kept, key=lambda e: e.work.operation_id)
    ]
    names = sorted({bucket for _, _, buckets in counted for bucket in buckets})
    moves = "".join(f", {bucket} = {bucket} + ?" for bucket in names)
    await conn.executemany(
        f"UPDATE operations SET fanout_cursor = ?, total = total + ?,"
        f" unaddressable = unaddressable + ?{moves}, updated_at = ?"
        f" WHERE id = ? AND fanout_cursor = ?",
        [
            (
                chunk.end,
                len(chunk.messages),
                len(chunk.unaddressable),
                *(buckets[name] for name in names),
                now,
                operation_id,
                chunk.start,
            )
            for operation_id, chunk, buckets in counted
        ],
    )


def _buckets(messages: Sequence[NewMessage]) -> Counter[str]:
    """The counters these new Messages move: one per status, and `settled`."""
    buckets = Counter(message.status.lower() for message in messages)
    buckets["settled"] = sum(message.settled for message in messages)
    return buckets


async def _insert_all_rows(conn: Conn, kept: Sequence[_Stored]) -> None:
    messages = [m for entry in kept for m in entry.messages]
    await conn.insert_many("messages", MESSAGE_COLUMNS, [_message_row(m) for m in messages])
    await conn.insert_many(
        "message_tags",
        ("message_id", "key", "value"),
        [(m.id, key, value) for m in messages for key, value in m.tags.items()],
    )
    await conn.insert_many(
        "unaddressable",
        _UNADDRESSABLE_COLUMNS,
        [
            _unaddressable_row(entry.work.operation_id, u)
            for entry in kept
            for u in entry.chunk.unaddressable
        ],
    )


def _born_settled_events(kept: Sequence[_Stored], now: int) -> list[EventRow]:
    """The events `insert_chunk` gives: of each Message born settled, and the operation's
    `processing` when its first chunk is stored."""
    found: list[EventRow] = []
    for entry in kept:
        work = entry.work
        found += [
            message_event(work.account_sid, work.operation_id, m.id, None, m.status, now)
            for m in entry.messages
            if m.settled
        ]
        if entry.chunk.start == 0 and work.status == "PROCESSING":
            found.append(operation_event(work.account_sid, work.operation_id, "processing", now))
    return found
