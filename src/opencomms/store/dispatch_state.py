"""The state the dispatcher and the receipt path read and write, in batches.

The engine composes these inside one transaction: read the current state, decide with
the pure rules of `domain.lifecycle`, write every change back with executemany.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, NamedTuple

from opencomms.store.database import Conn, placeholders
from opencomms.store.jsoncol import dump, load

__all__ = [
    "ATTEMPT_COLUMNS",
    "AttemptState",
    "DueMessage",
    "MessageState",
    "attempts_by_id",
    "attempts_by_provider_id",
    "claiming_in_index_order",
    "insert_attempts",
    "message_states",
    "release_in_flight",
    "running_operations",
    "save_attempts",
    "save_messages",
    "select_due",
]


class MessageState(NamedTuple):
    """A Message's mutable delivery state, as `save_messages` writes it back."""

    id: str
    operation_id: str
    status: str
    settled: bool
    attempt_count: int
    next_candidate: int
    candidate_count: int
    current_attempt_id: str | None
    channel: str | None
    sender: dict[str, str] | None
    due_at: int | None
    error_code: int | None
    error_message: str | None


class AttemptState(NamedTuple):
    id: str
    message_id: str
    operation_id: str
    account_sid: str
    number: int
    sender_id: str
    connector: str
    channel: str
    from_address: str
    to_address: str
    to_channel: str
    status: str
    in_flight: bool
    submitted_at: int | None
    provider_message_id: str | None
    error_code: int | None
    error_message: str | None
    attempted_at: int
    updated_at: int


ATTEMPT_COLUMNS = AttemptState._fields

_MESSAGE_STATE = ", ".join(f"m.{column}" for column in MessageState._fields)
_ATTEMPT_STATE = ", ".join(f"a.{column}" for column in ATTEMPT_COLUMNS)


class DueMessage(NamedTuple):
    state: MessageState
    account_sid: str
    candidates: list[list[str]]
    content: dict[str, Any]
    current: AttemptState | None


def _message_state(row: Sequence[Any]) -> MessageState:
    values = list(row[:13])
    values[3] = bool(values[3])
    values[9] = load(values[9])
    return MessageState(*values)


def _attempt_state(row: Sequence[Any]) -> AttemptState | None:
    if row[0] is None:
        return None
    values = list(row)
    values[12] = bool(values[12])
    return AttemptState(*values)


@asynccontextmanager
async def claiming_in_index_order(conn: Conn) -> AsyncIterator[None]:
    """Inside, on PostgreSQL, claims are planned afresh for the tables as they are now,
    and read due Messages in `due_at` order straight from the index, never by sorting.

    Without fresh statistics (autovacuum off, or a burst of new Messages not analyzed
    yet) two plans go wrong, and each makes the next claim slower as the backlog grows:
    a prepared claim keeps the plan made when `attempts` was nearly empty (a nested loop
    over all its rows: 300 ms a claim at 40,000 attempts), and a fresh plan guesses that
    few Messages of an operation are due, sorting (and spilling to disk) all of them
    instead of reading the first ones. A 100,000-Message run on PostgreSQL completed at
    330 Messages a second instead of 2,700. So for these statements only (SET LOCAL, set
    back after them; a failed transaction drops it with the rest) plans are not reused
    and sorting is off.
    """
    if conn.dialect != "postgresql":
        yield
        return
    await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan; SET LOCAL enable_sort = off")
    yield
    await conn.execute("SET LOCAL plan_cache_mode TO DEFAULT; SET LOCAL enable_sort TO DEFAULT")


async def running_operations(conn: Conn, limit: int) -> list[str]:
    """Ids of operations still SCHEDULED or PROCESSING, oldest first."""
    rows = await conn.fetch(
        "SELECT id FROM operations WHERE status IN ('SCHEDULED', 'PROCESSING') ORDER BY id LIMIT ?",
        limit,
    )
    return [row[0] for row in rows]


async def select_due(
    conn: Conn, *, now: int, lease_ms: int, limit: int, operation_id: str | None = None
) -> list[DueMessage]:
    """Claim up to `limit` Messages whose `due_at` has come (of one operation, if given),
    pushing it `lease_ms` ahead."""
    lock = " FOR UPDATE OF m SKIP LOCKED" if conn.dialect == "postgresql" else ""
    of_operation = " AND m.operation_id = ?" if operation_id else ""
    rows = await conn.fetch(
        f"SELECT {_MESSAGE_STATE}, m.account_sid, m.candidates, m.content, {_ATTEMPT_STATE}"
        " FROM messages m LEFT JOIN attempts a ON a.id = m.current_attempt_id"
        f" WHERE m.due_at <= ?{of_operation} ORDER BY m.due_at LIMIT ?{lock}",
        *((now, operation_id) if operation_id else (now,)),
        limit,
    )
    if not rows:
        return []
    await conn.executemany(
        "UPDATE messages SET due_at = ? WHERE id = ?", [(now + lease_ms, row[0]) for row in rows]
    )
    return [
        DueMessage(
            state=_message_state(row),
            account_sid=row[13],
            candidates=load(row[14]),
            content=load(row[15]),
            current=_attempt_state(row[16:]),
        )
        for row in rows
    ]


async def _attempts_where(
    conn: Conn, column: str, keys: Sequence[str]
) -> list[tuple[AttemptState, MessageState]]:
    if not keys:
        return []
    # On PostgreSQL the rows are locked, in one order, so that concurrent batches (receipts,
    # submit answers) each see the other's committed state instead of overwriting it.
    lock = " FOR UPDATE" if conn.dialect == "postgresql" else ""
    rows = await conn.fetch(
        f"SELECT {_ATTEMPT_STATE}, {_MESSAGE_STATE} FROM attempts a"
        f" JOIN messages m ON m.id = a.message_id WHERE a.{column} IN ({placeholders(len(keys))})"
        f" ORDER BY m.id, a.id{lock}",
        *keys,
    )
    width = len(ATTEMPT_COLUMNS)
    pairs = []
    for row in rows:
        attempt = _attempt_state(row[:width])
        assert attempt is not None
        pairs.append((attempt, _message_state(row[width:])))
    return pairs


async def attempts_by_id(
    conn: Conn, attempt_ids: Sequence[str]
) -> list[tuple[AttemptState, MessageState]]:
    """The attempts with these ids, each with its Message's state."""
    return await _attempts_where(conn, "id", attempt_ids)


async def attempts_by_provider_id(
    conn: Conn, provider_ids: Sequence[str]
) -> list[tuple[AttemptState, MessageState]]:
    return await _attempts_where(conn, "provider_message_id", provider_ids)


async def insert_attempts(conn: Conn, attempts: Sequence[AttemptState]) -> None:
    await conn.insert_many(
        "attempts",
        ATTEMPT_COLUMNS,
        [(*attempt[:12], int(attempt.in_flight), *attempt[13:]) for attempt in attempts],
    )


async def save_attempts(conn: Conn, attempts: Sequence[AttemptState]) -> None:
    await conn.executemany(
        "UPDATE attempts SET status = ?, in_flight = ?, submitted_at = ?, provider_message_id = ?,"
        " error_code = ?, error_message = ?, updated_at = ? WHERE id = ?",
        [
            (
                a.status,
                int(a.in_flight),
                a.submitted_at,
                a.provider_message_id,
                a.error_code,
                a.error_message,
                a.updated_at,
                a.id,
            )
            for a in sorted(attempts)
        ],
    )


async def save_messages(conn: Conn, messages: Sequence[MessageState], now: int) -> None:
    await conn.executemany(
        "UPDATE messages SET status = ?, settled = ?, attempt_count = ?, next_candidate = ?,"
        " current_attempt_id = ?, channel = ?, sender = ?, due_at = ?, error_code = ?,"
        " error_message = ?, updated_at = ? WHERE id = ?",
        [
            (
                m.status,
                int(m.settled),
                m.attempt_count,
                m.next_candidate,
                m.current_attempt_id,
                m.channel,
                None if m.sender is None else dump(m.sender),
                m.due_at,
                m.error_code,
                m.error_message,
                now,
                m.id,
            )
            for m in sorted(messages)
        ],
    )


async def release_in_flight(conn: Conn, now: int) -> int:
    """Make due now every Message claimed by a process that is gone (embedded engine)."""
    return await conn.execute(
        "UPDATE messages SET due_at = ? WHERE due_at > ? AND current_attempt_id IN"
        " (SELECT id FROM attempts WHERE in_flight = 1)",
        now,
        now,
    )


async def message_states(
    conn: Conn, where: str, *args: Any, lock: bool = False
) -> list[MessageState]:
    """The delivery state of the Messages matching `where` (over `messages m`), their rows
    locked on PostgreSQL when `lock`."""
    suffix = " ORDER BY m.id FOR UPDATE" if lock and conn.dialect == "postgresql" else ""
    rows = await conn.fetch(f"SELECT {_MESSAGE_STATE} FROM messages m WHERE {where}{suffix}", *args)
    return [_message_state(row) for row in rows]
