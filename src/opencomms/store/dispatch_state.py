"""The state the dispatcher and the receipt path read and write, in batches.

The engine composes these inside one transaction: read the current state, decide with
the pure rules of `domain.lifecycle`, write every change back in one statement per
table (`Conn.update_many`).
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Any

import msgspec

from opencomms.domain.attempt_state import AttemptState
from opencomms.domain.candidates import Candidate
from opencomms.domain.message_state import AttemptAndMessage, DueMessage, MessageState
from opencomms.store.database import Column, Conn, Row, placeholders
from opencomms.store.jsoncol import dump, load

__all__ = [
    "ATTEMPT_COLUMNS",
    "attempts_by_id",
    "attempts_by_provider_id",
    "insert_attempts",
    "message_states",
    "release_in_flight",
    "renew_leases",
    "running_operations",
    "save_attempts",
    "save_messages",
    "select_due",
]

# Rows are read by column name: a struct's columns are its fields, selected in their
# order; a column that needs decoding is found by its name, and each part of a joined
# row by the widths of the column lists before it.
ATTEMPT_COLUMNS = AttemptState.__struct_fields__
_MESSAGE_COLUMNS = MessageState.__struct_fields__
_DUE_COLUMNS = ("account_sid", "candidates", "content")  # of `messages`, beside its state
_SETTLED, _SENDER = (_MESSAGE_COLUMNS.index(c) for c in ("settled", "sender"))
_IN_FLIGHT = ATTEMPT_COLUMNS.index("in_flight")
_MESSAGE_WIDTH = len(_MESSAGE_COLUMNS)
_ATTEMPT_WIDTH = len(ATTEMPT_COLUMNS)
_ATTEMPT_START = _MESSAGE_WIDTH + len(_DUE_COLUMNS)  # in a row of _DUE_SELECT

_candidates = msgspec.json.Decoder(list[Candidate])


def _select(alias: str, columns: Sequence[str]) -> str:
    return ", ".join(f"{alias}.{column}" for column in columns)


_DUE_SELECT = ", ".join(
    (_select("m", (*_MESSAGE_COLUMNS, *_DUE_COLUMNS)), _select("a", ATTEMPT_COLUMNS))
)
_PAIR_SELECT = ", ".join((_select("a", ATTEMPT_COLUMNS), _select("m", _MESSAGE_COLUMNS)))


def _message_state(columns: Row) -> MessageState:
    """`columns`: the values of _MESSAGE_COLUMNS (MessageState's fields, in order)."""
    values = list(columns)
    values[_SETTLED] = bool(values[_SETTLED])
    values[_SENDER] = load(values[_SENDER])
    return MessageState(*values)


def _attempt_state(columns: Row) -> AttemptState | None:
    """`columns`: the values of ATTEMPT_COLUMNS (AttemptState's fields, in order); None
    for the NULL columns of a LEFT JOIN that found no attempt."""
    if columns[0] is None:  # its id
        return None
    values = list(columns)
    values[_IN_FLIGHT] = bool(values[_IN_FLIGHT])
    return AttemptState(*values)


def _due_message(row: Row) -> DueMessage:
    """A row of `select_due` (_DUE_SELECT)."""
    account_sid, candidates, content = row[_MESSAGE_WIDTH:_ATTEMPT_START]  # _DUE_COLUMNS
    return DueMessage(
        state=_message_state(row[:_MESSAGE_WIDTH]),
        account_sid=account_sid,
        candidates=_candidates.decode(candidates),
        content=load(content),
        current=_attempt_state(row[_ATTEMPT_START:]),
    )


def _attempt_and_message(row: Row) -> AttemptAndMessage:
    """A row of `_attempts_where` (_PAIR_SELECT)."""
    attempt = _attempt_state(row[:_ATTEMPT_WIDTH])
    assert attempt is not None  # an inner join
    return AttemptAndMessage(attempt, _message_state(row[_ATTEMPT_WIDTH:]))


_RUNNING = "status IN ('SCHEDULED', 'PROCESSING')"
# the accounts with a running operation, one index probe each (ix_operations_running_account)
_RUNNING_ACCOUNTS = (
    "WITH RECURSIVE accounts (sid, n) AS ("
    f" SELECT MIN(account_sid), 1 FROM operations WHERE {_RUNNING}"
    " UNION ALL SELECT (SELECT MIN(account_sid) FROM operations"
    f"  WHERE {_RUNNING} AND account_sid > accounts.sid), n + 1"
    " FROM accounts WHERE accounts.sid IS NOT NULL AND n < ?"
    ") SELECT sid FROM accounts WHERE sid IS NOT NULL"
)


async def running_operations(conn: Conn, limit: int) -> list[str]:
    """Ids of up to `limit` operations still SCHEDULED or PROCESSING, in turns between
    accounts: every account's oldest, then every account's second oldest, and so on. So
    an account's lone send is among them however many operations another account runs
    (up to `limit` accounts: past that, the others wait for the claim's fill in due order)."""
    accounts = [row[0] for row in await conn.fetch(_RUNNING_ACCOUNTS, limit)]
    if not accounts:
        return []
    each = limit - len(accounts) + 1  # as many as one account can have among `limit`
    oldest = " UNION ALL ".join(
        f"SELECT * FROM (SELECT id, account_sid FROM operations"
        f" WHERE {_RUNNING} AND account_sid = ? ORDER BY id LIMIT {each}) a{n}"
        for n in range(len(accounts))
    )
    turns: dict[str, list[str]] = {sid: [] for sid in accounts}
    for operation_id, account_sid in await conn.fetch(oldest, *accounts):
        turns[account_sid].append(operation_id)
    ordered = [sorted(ids) for ids in turns.values()]
    in_turns = [ids[turn] for turn in range(each) for ids in ordered if turn < len(ids)]
    return in_turns[:limit]


async def select_due(
    conn: Conn,
    *,
    now: int,
    limit: int,
    operation_id: str | None = None,
    elsewhere: Sequence[str] = (),
    taken: Sequence[str] = (),
) -> list[DueMessage]:
    """Up to `limit` Messages whose `due_at` has come (of one operation, if given), locked
    for this transaction (PostgreSQL: skipping those another claim holds); not those
    whose next step is on a connector of `elsewhere` (another process runs it:
    engine/singletons.py), nor those of `taken` (this claim has them already).

    Nothing is written here: the claim writes each Message once, its lease included
    (`due_at`, engine/planning.py), before it commits. A separate lease write would
    cost every Message one more whole-row update (a new version in each of the table's
    indexes) per claim."""
    lock = " FOR UPDATE OF m SKIP LOCKED" if conn.dialect == "postgresql" else ""
    of_operation = " AND m.operation_id = ?" if operation_id else ""
    not_taken = f" AND m.id NOT IN ({placeholders(len(taken))})" if taken else ""
    rows = await conn.fetch(
        f"SELECT {_DUE_SELECT}"
        " FROM messages m LEFT JOIN attempts a ON a.id = m.current_attempt_id"
        f" WHERE m.due_at <= ?{of_operation}{not_taken}{_not_elsewhere(conn, len(elsewhere))}"
        f" ORDER BY m.due_at LIMIT ?{lock}",
        *((now, operation_id) if operation_id else (now,)),
        *taken,
        *elsewhere,
        *elsewhere,
        limit,
    )
    return [_due_message(row) for row in rows]


def _not_elsewhere(conn: Conn, count: int) -> str:
    """The condition that a Message's next step is on none of `count` connectors: a
    QUEUED current attempt (in flight, or throttled) goes to its own connector; else the
    next candidate's sender does (a Message with none left settles wherever it is)."""
    if not count:
        return ""
    if conn.dialect == "postgresql":
        next_sender = "(m.candidates::jsonb -> m.next_candidate ->> 2)"
    else:
        next_sender = "json_extract(m.candidates, '$[' || m.next_candidate || '][2]')"
    names = placeholders(count)
    return (
        f" AND NOT (CASE WHEN a.status = 'QUEUED' THEN a.connector IN ({names})"
        f" ELSE EXISTS (SELECT 1 FROM senders s WHERE s.id = {next_sender}"
        f" AND s.connector IN ({names})) END)"
    )


async def _attempts_where(conn: Conn, column: str, keys: Sequence[str]) -> list[AttemptAndMessage]:
    if not keys:
        return []
    # On PostgreSQL the rows are locked, in one order, so that concurrent batches (receipts,
    # submit answers) each see the other's committed state instead of overwriting it.
    lock = " FOR UPDATE" if conn.dialect == "postgresql" else ""
    rows = await conn.fetch(
        f"SELECT {_PAIR_SELECT} FROM attempts a"
        f" JOIN messages m ON m.id = a.message_id WHERE a.{column} IN ({placeholders(len(keys))})"
        f" ORDER BY m.id, a.id{lock}",
        *keys,
    )
    return [_attempt_and_message(row) for row in rows]


async def attempts_by_id(conn: Conn, attempt_ids: Sequence[str]) -> list[AttemptAndMessage]:
    """The attempts with these ids, each with its Message's state."""
    return await _attempts_where(conn, "id", attempt_ids)


async def attempts_by_provider_id(
    conn: Conn, provider_ids: Sequence[str]
) -> list[AttemptAndMessage]:
    return await _attempts_where(conn, "provider_message_id", provider_ids)


# the columns of a new attempt: the flag last, as an integer (PostgreSQL's COPY takes no bool
# for an integer column)
_INSERTED = tuple(column for column in ATTEMPT_COLUMNS if column != "in_flight")
_inserted_values = attrgetter(*_INSERTED)


async def insert_attempts(conn: Conn, attempts: Sequence[AttemptState]) -> None:
    await conn.insert_many(
        "attempts",
        (*_INSERTED, "in_flight"),
        [(*_inserted_values(attempt), int(attempt.in_flight)) for attempt in attempts],
    )


_SAVED_ATTEMPT: tuple[Column, ...] = (
    ("status", "text"),
    ("in_flight", "int"),
    ("submitted_at", "bigint"),
    ("provider_message_id", "text"),
    ("error_code", "int"),
    ("error_message", "text"),
    ("updated_at", "bigint"),
)
_SAVED_MESSAGE: tuple[Column, ...] = (
    ("status", "text"),
    ("settled", "int"),
    ("attempt_count", "int"),
    ("next_candidate", "int"),
    ("current_attempt_id", "text"),
    ("channel", "text"),
    ("sender", "text"),
    ("due_at", "bigint"),
    ("error_code", "int"),
    ("error_message", "text"),
    ("updated_at", "bigint"),
)


_by_id = attrgetter("id")  # rows are written in one order (id), so that batches do not deadlock


async def save_attempts(conn: Conn, attempts: Sequence[AttemptState]) -> None:
    await conn.update_many(
        "attempts",
        _SAVED_ATTEMPT,
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
            for a in sorted(attempts, key=_by_id)
        ],
    )


async def save_messages(conn: Conn, messages: Sequence[MessageState], now: int) -> None:
    await conn.update_many(
        "messages",
        _SAVED_MESSAGE,
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
            for m in sorted(messages, key=_by_id)
        ],
    )


async def renew_leases(conn: Conn, message_ids: Sequence[str], held_until: int, until: int) -> int:
    """Push to `until` the lease of these Messages that still hold it at `held_until`
    (a Message whose answer was recorded meanwhile has another `due_at`, and is left
    alone); how many were renewed. On PostgreSQL the rows are locked in id order, as the
    recording of answers locks them (no deadlock between the two), and a row being
    recorded is waited for, then seen with its new `due_at`."""
    if not message_ids:
        return 0
    lock = " ORDER BY id FOR UPDATE" if conn.dialect == "postgresql" else ""
    return await conn.execute(
        "UPDATE messages SET due_at = ? WHERE id IN (SELECT id FROM messages"
        f" WHERE due_at = ? AND id IN ({placeholders(len(message_ids))}){lock})",
        until,
        held_until,
        *sorted(message_ids),
    )


async def release_in_flight(conn: Conn, now: int) -> int:
    """Make due now every Message claimed by a process that is gone (SQLite only: there
    no other process can hold a claim)."""
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
    rows = await conn.fetch(
        f"SELECT {_select('m', _MESSAGE_COLUMNS)} FROM messages m WHERE {where}{suffix}", *args
    )
    return [_message_state(row) for row in rows]
