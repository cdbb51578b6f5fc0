"""Sinks (where events go), subscriptions (which events), and each sink's cursor over the
outbox. A sink reads the events after its cursor in commit order; its cursor moves only
when a batch was delivered (or given up on), so a crash can repeat a delivery, never skip
one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from opencomms.store.database import Conn, placeholders
from opencomms.store.jsoncol import dump, load
from opencomms.store.plans import in_index_order

__all__ = [
    "AttemptContext",
    "Cursor",
    "PendingEvent",
    "Replay",
    "SinkRecord",
    "SubscriptionRecord",
    "advance_cursor",
    "advance_replay",
    "attempt_contexts",
    "callback_sink",
    "count_sinks",
    "current_position",
    "delete_sink",
    "delete_subscription",
    "due_sink_ids",
    "expire_callback_sinks",
    "finish_replay",
    "get_sink",
    "get_subscription",
    "insert_replay",
    "insert_sink",
    "insert_subscription",
    "lane_progress",
    "link_callback",
    "list_deliveries",
    "list_sinks",
    "list_subscriptions",
    "lock_account_sinks",
    "next_replay",
    "pending_events",
    "record_delivery",
    "save_progress",
    "set_sink_state",
    "sink_by_id",
    "subscription_types",
    "touch_callback",
    "update_sink_description",
    "update_subscription",
]


class SinkRecord(NamedTuple):
    id: str
    account_sid: str
    kind: str
    url: str
    description: str
    secret_sealed: str  # "" for a callback sink: it signs with its account's secret
    status: str
    cursor_txid: int
    cursor_seq: int
    tries: int
    failing_since: int | None
    next_attempt_at: int
    created_at: int
    updated_at: int
    last_used_at: int | None  # a callback sink: when a send last named it
    # False: each event is POSTed alone, as one CloudEvent object (SQLite gives 0 or 1)
    batch_events: bool = True


class SubscriptionRecord(NamedTuple):
    id: str
    account_sid: str
    sink_id: str
    types: list[str]
    created_at: int
    description: str = ""
    updated_at: int | None = None  # None: never changed since it was made


class PendingEvent(NamedTuple):
    seq: int
    txid: int
    type: str
    operation_id: str
    message_id: str | None
    attempt_id: str | None
    status: str | None
    error_code: int | None
    error_message: str | None
    created_at: int


_SINK = ", ".join(SinkRecord._fields)
_EVENT = ", ".join(PendingEvent._fields)


async def insert_sink(conn: Conn, sink: SinkRecord) -> None:
    await conn.execute(
        f"INSERT INTO sinks ({_SINK}) VALUES ({placeholders(len(SinkRecord._fields))})", *sink
    )


async def get_sink(conn: Conn, account_sid: str, sink_id: str) -> SinkRecord | None:
    row = await conn.fetchrow(
        f"SELECT {_SINK} FROM sinks WHERE id = ? AND account_sid = ?", sink_id, account_sid
    )
    return None if row is None else SinkRecord(*row)


async def list_sinks(
    conn: Conn,
    account_sid: str,
    *,
    before: str,
    limit: int,
    status: str | None = None,
    in_use: bool | None = None,
) -> list[SinkRecord]:
    """The account's sinks of both kinds, newest first; only those of `status`, and
    only those with (`in_use`) or without a subscription, when given."""
    clauses, args = ["account_sid = ?", "id < ?"], [account_sid, before]
    if status is not None:
        clauses.append("status = ?")
        args.append(status)
    if in_use is not None:
        used = "EXISTS (SELECT 1 FROM subscriptions WHERE subscriptions.sink_id = sinks.id)"
        clauses.append(used if in_use else f"NOT {used}")
    rows = await conn.fetch(
        f"SELECT {_SINK} FROM sinks WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT ?",
        *args,
        limit,
    )
    return [SinkRecord(*row) for row in rows]


async def update_sink_description(
    conn: Conn, account_sid: str, sink_id: str, description: str, now: int
) -> bool:
    changed = await conn.execute(
        "UPDATE sinks SET description = ?, updated_at = ? WHERE id = ? AND account_sid = ?",
        description,
        now,
        sink_id,
        account_sid,
    )
    return changed == 1


async def delete_sink(conn: Conn, account_sid: str, sink_id: str) -> bool:
    changed = await conn.execute(
        "DELETE FROM sinks WHERE id = ? AND account_sid = ?", sink_id, account_sid
    )
    if changed:
        await _delete_belongings(conn, sink_id)
    return changed == 1


async def _delete_belongings(conn: Conn, sink_id: str) -> None:
    """What hangs on a deleted sink: subscriptions, links to sends, replays, deliveries."""
    for table in ("subscriptions", "operation_callbacks", "sink_replays", "sink_deliveries"):
        await conn.execute(f"DELETE FROM {table} WHERE sink_id = ?", sink_id)


async def lock_account_sinks(conn: Conn, account_sid: str) -> None:
    """Hold the account's sinks still until the transaction ends: on PostgreSQL its row is
    locked, so two sinks made at once cannot both pass the limit (SQLite has one writer)."""
    if conn.dialect == "postgresql":
        await conn.fetchrow("SELECT sid FROM accounts WHERE sid = ? FOR UPDATE", account_sid)


async def count_sinks(conn: Conn, account_sid: str) -> int:
    """The account's sinks of both kinds."""
    row = await conn.fetchrow("SELECT COUNT(*) FROM sinks WHERE account_sid = ?", account_sid)
    return int(row[0]) if row is not None else 0


TOUCH_EVERY_MS = 60_000


async def touch_callback(conn: Conn, sink_id: str, now: int) -> None:
    """A send named this callback sink: it is in use. Noted at most once a minute, so
    that sends naming the same URL at once do not queue on the sink's row."""
    await conn.execute(
        "UPDATE sinks SET last_used_at = ? WHERE id = ? AND last_used_at < ?",
        now,
        sink_id,
        now - TOUCH_EVERY_MS,
    )


async def expire_callback_sinks(conn: Conn, unused_since: int, limit: int = 500) -> list[str]:
    """Delete callback sinks no send has named, and nothing was delivered to, since
    `unused_since`, unless a send linked to one has not finished; their ids."""
    rows = await conn.fetch(
        "SELECT s.id FROM sinks s WHERE s.kind = 'callback' AND s.last_used_at < ?"
        " AND s.updated_at < ? AND NOT EXISTS (SELECT 1 FROM operation_callbacks c"
        "  JOIN operations o ON o.id = c.operation_id WHERE c.sink_id = s.id"
        "  AND o.status IN ('SCHEDULED', 'PROCESSING')) LIMIT ?",
        unused_since,
        unused_since,
        limit,
    )
    expired = [row[0] for row in rows]
    for sink_id in expired:
        await conn.execute("DELETE FROM sinks WHERE id = ?", sink_id)
        await _delete_belongings(conn, sink_id)
    return expired


async def callback_sink(conn: Conn, account_sid: str, url: str) -> SinkRecord | None:
    """The account's sink for a send's `callbacks.url`, if one was made before."""
    row = await conn.fetchrow(
        f"SELECT {_SINK} FROM sinks WHERE account_sid = ? AND kind = 'callback' AND url = ?"
        " ORDER BY id LIMIT 1",
        account_sid,
        url,
    )
    return None if row is None else SinkRecord(*row)


async def link_callback(conn: Conn, operation_id: str, sink_id: str) -> None:
    await conn.execute(
        "INSERT INTO operation_callbacks (operation_id, sink_id) VALUES (?, ?)",
        operation_id,
        sink_id,
    )


async def insert_subscription(conn: Conn, subscription: SubscriptionRecord) -> None:
    await conn.execute(
        "INSERT INTO subscriptions (id, account_sid, sink_id, types, created_at, description,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        subscription.id,
        subscription.account_sid,
        subscription.sink_id,
        dump(subscription.types),
        subscription.created_at,
        subscription.description,
        subscription.updated_at,
    )


_SUBSCRIPTION = "id, account_sid, sink_id, types, created_at, description, updated_at"


def _subscription(row: Sequence[Any]) -> SubscriptionRecord:
    return SubscriptionRecord(row[0], row[1], row[2], load(row[3]), row[4], row[5], row[6])


async def get_subscription(
    conn: Conn, account_sid: str, subscription_id: str
) -> SubscriptionRecord | None:
    row = await conn.fetchrow(
        f"SELECT {_SUBSCRIPTION} FROM subscriptions WHERE id = ? AND account_sid = ?",
        subscription_id,
        account_sid,
    )
    return None if row is None else _subscription(row)


async def list_subscriptions(
    conn: Conn, account_sid: str, *, before: str, limit: int, sink_id: str | None = None
) -> list[SubscriptionRecord]:
    """The account's subscriptions, newest first; only those of `sink_id` when given."""
    of_sink = "" if sink_id is None else " AND sink_id = ?"
    rows = await conn.fetch(
        f"SELECT {_SUBSCRIPTION} FROM subscriptions WHERE account_sid = ? AND id < ?{of_sink}"
        " ORDER BY id DESC LIMIT ?",
        *([account_sid, before] if sink_id is None else [account_sid, before, sink_id]),
        limit,
    )
    return [_subscription(row) for row in rows]


async def update_subscription(
    conn: Conn,
    account_sid: str,
    subscription_id: str,
    now: int,
    *,
    description: str | None = None,
    types: list[str] | None = None,
) -> bool:
    """Change a subscription's description and/or types (a None is left as it is)."""
    changed = await conn.execute(
        "UPDATE subscriptions SET description = COALESCE(?, description),"
        " types = COALESCE(?, types), updated_at = ? WHERE id = ? AND account_sid = ?",
        description,
        None if types is None else dump(types),
        now,
        subscription_id,
        account_sid,
    )
    return changed == 1


async def delete_subscription(conn: Conn, account_sid: str, subscription_id: str) -> bool:
    changed = await conn.execute(
        "DELETE FROM subscriptions WHERE id = ? AND account_sid = ?", subscription_id, account_sid
    )
    return changed == 1


async def subscription_types(conn: Conn, sink_id: str) -> list[str]:
    """Every type pattern subscribed for this sink (exact types or `prefix.*`)."""
    rows = await conn.fetch("SELECT types FROM subscriptions WHERE sink_id = ?", sink_id)
    return sorted({pattern for row in rows for pattern in load(row[0])})


_DUE = "status = 'ACTIVE' AND next_attempt_at <= ?"
_ACCOUNTS_PER_QUERY = 500


async def due_sink_ids(conn: Conn, now: int, accounts: set[str] | None) -> set[str]:
    """The sinks that may have something to deliver now: those of `accounts` (which have
    new events), those waiting to retry, those with a replay; every active sink when
    `accounts` is None. A sink with nothing new is not read at all."""
    if accounts is None:
        rows = await conn.fetch(f"SELECT id FROM sinks WHERE {_DUE}", now)
        return {row[0] for row in rows}
    rows = await conn.fetch(f"SELECT id FROM sinks WHERE tries > 0 AND {_DUE}", now)
    rows += await conn.fetch(
        "SELECT DISTINCT r.sink_id FROM sink_replays r JOIN sinks ON sinks.id = r.sink_id"
        f" WHERE {_DUE}",
        now,
    )
    listed = sorted(accounts)
    for start in range(0, len(listed), _ACCOUNTS_PER_QUERY):
        chunk = listed[start : start + _ACCOUNTS_PER_QUERY]
        rows += await conn.fetch(
            f"SELECT id FROM sinks WHERE account_sid IN ({placeholders(len(chunk))}) AND {_DUE}",
            *chunk,
            now,
        )
    return {row[0] for row in rows}


def _type_filter(patterns: Sequence[str]) -> tuple[str, list[str]]:
    clauses, args = [], []
    for pattern in patterns:
        if pattern.endswith("*"):
            clauses.append("type LIKE ?")
            args.append(pattern[:-1] + "%")
        else:
            clauses.append("type = ?")
            args.append(pattern)
    return "(" + " OR ".join(clauses) + ")", args


class Replay(NamedTuple):
    id: int
    since_ms: int
    until_ms: int
    cursor_txid: int
    cursor_seq: int


async def pending_events(
    conn: Conn,
    sink: SinkRecord,
    patterns: Sequence[str],
    limit: int,
    replay: Replay | None = None,
) -> list[PendingEvent]:
    """The next events for `sink` after its cursor (or a replay's), in commit order.

    Read as two index range scans — the rest of the cursor's transaction, then later
    transactions — so a batch costs the same however long the outbox is. On PostgreSQL
    only events of transactions older than every running one are read: a transaction
    still running may hold a lower sequence number, and reading past it would skip its
    events once it commits. On SQLite (one writer) `txid` is always 0.
    """
    txid, seq = (
        (replay.cursor_txid, replay.cursor_seq) if replay else (sink.cursor_txid, sink.cursor_seq)
    )
    clauses: list[str] = ["account_sid = ?"]
    args: list[Any] = [sink.account_sid]
    if replay is not None:
        clauses.append("created_at >= ? AND created_at < ?")
        args += [replay.since_ms, replay.until_ms]
    if sink.kind == "callback":
        clauses.append(
            "operation_id IN (SELECT operation_id FROM operation_callbacks WHERE sink_id = ?)"
        )
        args.append(sink.id)
    else:
        if not patterns:
            return []
        clause, type_args = _type_filter(patterns)
        clauses.append(clause)
        args += type_args
    where = " AND ".join(clauses)
    select = f"SELECT {_EVENT} FROM events WHERE {where}"
    async with in_index_order(conn):
        return await _events_after(conn, select, args, txid, seq, limit)


async def _events_after(
    conn: Conn, select: str, args: list[Any], txid: int, seq: int, limit: int
) -> list[PendingEvent]:
    rows = await conn.fetch(
        f"{select} AND txid = ? AND seq > ? ORDER BY seq LIMIT ?", *args, txid, seq, limit
    )
    if len(rows) < limit and conn.dialect == "postgresql":
        horizon = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
        rows += await conn.fetch(
            f"{select} AND txid > ? AND txid < {horizon} ORDER BY txid, seq LIMIT ?",
            *args,
            txid,
            limit - len(rows),
        )
    return [PendingEvent(*row) for row in rows]


async def advance_cursor(conn: Conn, sink_id: str, txid: int, seq: int, now: int) -> None:
    """The batch up to (txid, seq) is done: the sink moves on, healthy again."""
    await conn.execute(
        "UPDATE sinks SET cursor_txid = ?, cursor_seq = ?, tries = 0, failing_since = NULL,"
        " next_attempt_at = ?, updated_at = ? WHERE id = ?",
        txid,
        seq,
        now,
        now,
        sink_id,
    )


async def lane_progress(conn: Conn, sink_id: str) -> str | None:
    """What the sink's lanes delivered beyond its cursor (events/lanes.py), as stored."""
    row = await conn.fetchrow("SELECT lane_progress FROM sinks WHERE id = ?", sink_id)
    return None if row is None else row[0]


async def save_progress(
    conn: Conn,
    sink_id: str,
    *,
    cursor: tuple[int, int],
    lanes: str | None,
    now: int,
    healthy: bool,
) -> None:
    """A batch of a round was delivered: the sink's cursor (before the first event of
    the round not delivered yet) and its lanes' marks beyond it; `healthy` when the
    whole round got through (the sink is no longer failing)."""
    health = ", tries = 0, failing_since = NULL, next_attempt_at = ?" if healthy else ""
    await conn.execute(
        f"UPDATE sinks SET cursor_txid = ?, cursor_seq = ?, lane_progress = ?{health},"
        " updated_at = ? WHERE id = ?",
        cursor[0],
        cursor[1],
        lanes,
        *([now] if healthy else []),
        now,
        sink_id,
    )


async def set_sink_state(
    conn: Conn,
    sink_id: str,
    *,
    status: str,
    tries: int,
    failing_since: int | None,
    next_attempt_at: int,
    now: int,
) -> None:
    await conn.execute(
        "UPDATE sinks SET status = ?, tries = ?, failing_since = ?, next_attempt_at = ?,"
        " updated_at = ? WHERE id = ?",
        status,
        tries,
        failing_since,
        next_attempt_at,
        now,
        sink_id,
    )


DELIVERY_COLUMNS = (
    "sink_id",
    "attempted_at",
    "events",
    "first_event_id",
    "last_event_id",
    "outcome",
    "status_code",
    "error",
    "duration_ms",
    "next_attempt_at",
)


async def record_delivery(conn: Conn, row: Sequence[Any]) -> None:
    await conn.execute(
        f"INSERT INTO sink_deliveries ({', '.join(DELIVERY_COLUMNS)})"
        f" VALUES ({placeholders(len(DELIVERY_COLUMNS))})",
        *row,
    )


async def list_deliveries(conn: Conn, sink_id: str, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {', '.join(DELIVERY_COLUMNS)} FROM sink_deliveries WHERE sink_id = ?"
        " ORDER BY id DESC LIMIT ?",
        sink_id,
        limit,
    )
    return [dict(zip(DELIVERY_COLUMNS, row, strict=True)) for row in rows]


async def sink_by_id(conn: Conn, sink_id: str) -> SinkRecord | None:
    row = await conn.fetchrow(f"SELECT {_SINK} FROM sinks WHERE id = ?", sink_id)
    return None if row is None else SinkRecord(*row)


class Cursor(NamedTuple):
    """A place in the outbox's commit order."""

    txid: int
    seq: int


async def current_position(conn: Conn) -> Cursor:
    """A cursor just past every event written so far: a new sink starts from here."""
    if conn.dialect == "postgresql":
        # every transaction below the horizon is over; later ones have larger ids
        row = await conn.fetchrow("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        assert row is not None
        return Cursor(int(row[0]) - 1, 2**62)
    row = await conn.fetchrow("SELECT COALESCE(MAX(seq), 0) FROM events")
    assert row is not None
    return Cursor(0, int(row[0]))


class AttemptContext(NamedTuple):
    """What a message event's `data` says of its attempt, beside the event row."""

    number: int
    channel: str
    sender_id: str
    from_address: str
    to_address: str
    to_channel: str
    tags: dict[str, str]


async def attempt_contexts(conn: Conn, attempt_ids: Sequence[str]) -> dict[str, AttemptContext]:
    if not attempt_ids:
        return {}
    rows = await conn.fetch(
        "SELECT a.id, a.number, a.channel, a.sender_id, a.from_address, a.to_address,"
        " a.to_channel, m.tags FROM attempts a JOIN messages m ON m.id = a.message_id"
        f" WHERE a.id IN ({placeholders(len(attempt_ids))})",
        *attempt_ids,
    )
    return {
        row[0]: AttemptContext(row[1], row[2], row[3], row[4], row[5], row[6], load(row[7]))
        for row in rows
    }


async def insert_replay(conn: Conn, sink_id: str, since_ms: int, until_ms: int, now: int) -> None:
    await conn.execute(
        "INSERT INTO sink_replays (sink_id, since_ms, until_ms, cursor_txid, cursor_seq,"
        " created_at) VALUES (?, ?, ?, 0, 0, ?)",
        sink_id,
        since_ms,
        until_ms,
        now,
    )


async def next_replay(conn: Conn, sink_id: str) -> Replay | None:
    row = await conn.fetchrow(
        "SELECT id, since_ms, until_ms, cursor_txid, cursor_seq FROM sink_replays"
        " WHERE sink_id = ? ORDER BY id LIMIT 1",
        sink_id,
    )
    return None if row is None else Replay(*row)


async def advance_replay(conn: Conn, replay_id: int, txid: int, seq: int) -> None:
    await conn.execute(
        "UPDATE sink_replays SET cursor_txid = ?, cursor_seq = ? WHERE id = ?", txid, seq, replay_id
    )


async def finish_replay(conn: Conn, replay_id: int) -> None:
    await conn.execute("DELETE FROM sink_replays WHERE id = ?", replay_id)
