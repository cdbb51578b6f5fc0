"""Senders and sender pools. A pool is ordered: its order is the fallback order."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any, NamedTuple

from opencomms.domain.sender_addresses import address_key
from opencomms.store import sender_addresses
from opencomms.store.database import Conn, placeholders
from opencomms.store.jsoncol import dump, load
from opencomms.store.messages import bounded_above
from opencomms.store.records import SenderPoolRecord, SenderRecord

__all__ = [
    "PoolMember",
    "Registration",
    "add_pool_members",
    "change_sender",
    "default_pool",
    "delete_pool",
    "delete_sender",
    "find_pool_by_name",
    "find_sender_by_address",
    "get_pool",
    "get_sendable_senders",
    "get_sender",
    "get_senders",
    "insert_pool",
    "insert_sender",
    "list_pool_members",
    "list_pools",
    "list_senders",
    "register_sender",
    "remove_pool_member",
    "set_default_pool",
    "update_pool",
    "update_sender",
]

_SENDER_COLUMNS = (
    "id, account_sid, address, channel, connector, status, tags,"
    " fallback_timeout_ms, receipt_wait_ms, created_at, updated_at, display_name"
)
_S_SENDER_COLUMNS = ", ".join(f"s.{column.strip()}" for column in _SENDER_COLUMNS.split(","))


class Registration(Enum):
    CREATED = "created"
    EXISTS = "exists"  # the account has a sender with this address on this channel
    TAKEN = "taken"  # the address belongs to another account on this connector


def _sender(row: Sequence[Any]) -> SenderRecord:
    values = list(row)
    values[6] = load(values[6])
    return SenderRecord(*values)


async def register_sender(conn: Conn, sender: SenderRecord) -> Registration:
    """An account's new sender, unless its address is another account's on its connector."""
    key = address_key(sender.channel, sender.address)
    if not await sender_addresses.claim(conn, sender.connector, key, sender.account_sid):
        return Registration.TAKEN
    return Registration.CREATED if await insert_sender(conn, sender) else Registration.EXISTS


async def insert_sender(conn: Conn, sender: SenderRecord) -> bool:
    """False when the account already has a sender with this address on this channel.
    Its address must be claimed too: `register_sender`, or the operator's."""
    changed = await conn.execute(
        f"INSERT INTO senders ({_SENDER_COLUMNS}, address_key)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (account_sid, channel, address) DO NOTHING",
        sender.id,
        sender.account_sid,
        sender.address,
        sender.channel,
        sender.connector,
        sender.status,
        dump(sender.tags),
        sender.fallback_timeout_ms,
        sender.receipt_wait_ms,
        sender.created_at,
        sender.updated_at,
        sender.display_name,
        address_key(sender.channel, sender.address),
    )
    return changed == 1


async def change_sender(conn: Conn, sender: SenderRecord, previous_connector: str) -> bool:
    """Save an account's changes to its sender; False (nothing saved) when the address
    belongs to another account on the sender's (new) connector."""
    key = address_key(sender.channel, sender.address)
    if not await sender_addresses.claim(conn, sender.connector, key, sender.account_sid):
        return False
    await update_sender(conn, sender)
    if previous_connector != sender.connector:
        await sender_addresses.release(conn, previous_connector, key, sender.account_sid)
    return True


async def update_sender(conn: Conn, sender: SenderRecord) -> None:
    await conn.execute(
        "UPDATE senders SET status = ?, tags = ?, connector = ?, fallback_timeout_ms = ?,"
        " receipt_wait_ms = ?, updated_at = ?, display_name = ? WHERE id = ? AND account_sid = ?",
        sender.status,
        dump(sender.tags),
        sender.connector,
        sender.fallback_timeout_ms,
        sender.receipt_wait_ms,
        sender.updated_at,
        sender.display_name,
        sender.id,
        sender.account_sid,
    )


async def get_sender(conn: Conn, account_sid: str, sender_id: str) -> SenderRecord | None:
    row = await conn.fetchrow(
        f"SELECT {_SENDER_COLUMNS} FROM senders WHERE id = ? AND account_sid = ?",
        sender_id,
        account_sid,
    )
    return None if row is None else _sender(row)


async def get_senders(conn: Conn, sender_ids: Sequence[str]) -> dict[str, SenderRecord]:
    """The senders among `sender_ids` that still exist, by id."""
    if not sender_ids:
        return {}
    rows = await conn.fetch(
        f"SELECT {_SENDER_COLUMNS} FROM senders WHERE id IN ({placeholders(len(sender_ids))})",
        *sender_ids,
    )
    return {row[0]: _sender(row) for row in rows}


async def get_sendable_senders(conn: Conn, sender_ids: Sequence[str]) -> dict[str, SenderRecord]:
    """The senders among `sender_ids` that exist and may send: their address is their
    account's or the operator's on their connector (a sender that lost its address to
    an older one when ownership began, migration 0006, may not)."""
    if not sender_ids:
        return {}
    rows = await conn.fetch(
        f"SELECT {_S_SENDER_COLUMNS} FROM senders s JOIN sender_addresses o"
        " ON o.connector = s.connector AND o.address_key = s.address_key"
        f" WHERE s.id IN ({placeholders(len(sender_ids))})"
        " AND (o.account_sid IS NULL OR o.account_sid = s.account_sid)",
        *sender_ids,
    )
    return {row[0]: _sender(row) for row in rows}


async def find_sender_by_address(
    conn: Conn, account_sid: str, address: str, channel: str
) -> SenderRecord | None:
    row = await conn.fetchrow(
        f"SELECT {_SENDER_COLUMNS} FROM senders"
        " WHERE account_sid = ? AND channel = ? AND address = ?",
        account_sid,
        channel,
        address,
    )
    return None if row is None else _sender(row)


async def list_senders(
    conn: Conn,
    account_sid: str,
    *,
    after: str | None,
    limit: int,
    status: str | None = None,
    channel: str | None = None,
    address: str | None = None,
) -> list[SenderRecord]:
    """A page of senders, newest first, after the id `after`."""
    clauses, args = ["account_sid = ?"], [account_sid]
    if after is not None and bounded_above(after, "comms_sender_"):
        clauses.append("id < ?")
        args.append(after)
    for column, value in (("status =", status), ("channel =", channel), ("address =", address)):
        if value is not None:
            clauses.append(f"{column} ?")
            args.append(value)
    rows = await conn.fetch(
        f"SELECT {_SENDER_COLUMNS} FROM senders WHERE {' AND '.join(clauses)}"
        " ORDER BY id DESC LIMIT ?",
        *args,
        limit,
    )
    return [_sender(row) for row in rows]


async def delete_sender(conn: Conn, account_sid: str, sender_id: str) -> bool:
    """Delete a sender, take it out of every pool, and free its address when no other
    sender of the account has it."""
    sender = await get_sender(conn, account_sid, sender_id)
    if sender is None or not await conn.execute("DELETE FROM senders WHERE id = ?", sender_id):
        return False
    await conn.execute("DELETE FROM sender_pool_members WHERE sender_id = ?", sender_id)
    key = address_key(sender.channel, sender.address)
    await sender_addresses.release(conn, sender.connector, key, account_sid)
    return True


_POOL_COLUMNS = "id, account_sid, name, tags, is_default, created_at, updated_at"


async def _pools(conn: Conn, rows: Sequence[Sequence[Any]]) -> list[SenderPoolRecord]:
    if not rows:
        return []
    ids = [row[0] for row in rows]
    members: dict[str, list[str]] = {pool_id: [] for pool_id in ids}
    for pool_id, sender_id in await conn.fetch(
        f"SELECT pool_id, sender_id FROM sender_pool_members"
        f" WHERE pool_id IN ({placeholders(len(ids))}) ORDER BY pool_id, position",
        *ids,
    ):
        members[pool_id].append(sender_id)
    return [
        SenderPoolRecord(
            id=row[0],
            account_sid=row[1],
            name=row[2],
            tags=load(row[3]),
            is_default=bool(row[4]),
            sender_ids=members[row[0]],
            created_at=row[5],
            updated_at=row[6],
        )
        for row in rows
    ]


async def insert_pool(conn: Conn, pool: SenderPoolRecord) -> None:
    await conn.execute(
        f"INSERT INTO sender_pools ({_POOL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        pool.id,
        pool.account_sid,
        pool.name,
        dump(pool.tags),
        int(pool.is_default),
        pool.created_at,
        pool.updated_at,
    )
    await add_pool_members(conn, pool.id, pool.sender_ids)


async def update_pool(conn: Conn, pool: SenderPoolRecord) -> None:
    """Rename, retag, reorder and (un)mark as default: the members are replaced by
    `pool.sender_ids`. Making it the default takes that from the others: `set_default_pool`."""
    await conn.execute(
        "UPDATE sender_pools SET name = ?, tags = ?, is_default = ?, updated_at = ?"
        " WHERE id = ? AND account_sid = ?",
        pool.name,
        dump(pool.tags),
        int(pool.is_default),
        pool.updated_at,
        pool.id,
        pool.account_sid,
    )
    await conn.execute("DELETE FROM sender_pool_members WHERE pool_id = ?", pool.id)
    await add_pool_members(conn, pool.id, pool.sender_ids)


async def add_pool_members(conn: Conn, pool_id: str, sender_ids: Sequence[str]) -> None:
    """Append senders at the end of the pool's order (a sender already in it stays put)."""
    row = await conn.fetchrow(
        "SELECT COALESCE(MAX(position), -1) FROM sender_pool_members WHERE pool_id = ?", pool_id
    )
    start = (row[0] if row else -1) + 1
    await conn.executemany(
        "INSERT INTO sender_pool_members (pool_id, sender_id, position) VALUES (?, ?, ?)"
        " ON CONFLICT (pool_id, sender_id) DO NOTHING",
        [(pool_id, sender_id, start + i) for i, sender_id in enumerate(sender_ids)],
    )


class PoolMember(NamedTuple):
    """A sender at its place in a pool's order."""

    position: int
    sender: SenderRecord


async def list_pool_members(
    conn: Conn, pool_id: str, *, after_position: int, limit: int
) -> list[PoolMember]:
    """A page of the pool's senders in the pool's order, after a position."""
    rows = await conn.fetch(
        f"SELECT m.position, {_S_SENDER_COLUMNS} FROM sender_pool_members m"
        " JOIN senders s ON s.id = m.sender_id"
        " WHERE m.pool_id = ? AND m.position > ? ORDER BY m.position LIMIT ?",
        pool_id,
        after_position,
        limit,
    )
    return [PoolMember(row[0], _sender(row[1:])) for row in rows]


async def remove_pool_member(conn: Conn, pool_id: str, sender_id: str) -> bool:
    changed = await conn.execute(
        "DELETE FROM sender_pool_members WHERE pool_id = ? AND sender_id = ?", pool_id, sender_id
    )
    return changed == 1


async def get_pool(conn: Conn, account_sid: str, pool_id: str) -> SenderPoolRecord | None:
    rows = await conn.fetch(
        f"SELECT {_POOL_COLUMNS} FROM sender_pools WHERE id = ? AND account_sid = ?",
        pool_id,
        account_sid,
    )
    pools = await _pools(conn, rows)
    return pools[0] if pools else None


async def default_pool(conn: Conn, account_sid: str) -> SenderPoolRecord | None:
    rows = await conn.fetch(
        f"SELECT {_POOL_COLUMNS} FROM sender_pools WHERE account_sid = ? AND is_default = 1"
        " ORDER BY id LIMIT 1",
        account_sid,
    )
    pools = await _pools(conn, rows)
    return pools[0] if pools else None


async def find_pool_by_name(conn: Conn, account_sid: str, name: str) -> SenderPoolRecord | None:
    """The account's pool of this name (names need not be unique: the default pool first,
    then the oldest)."""
    rows = await conn.fetch(
        f"SELECT {_POOL_COLUMNS} FROM sender_pools WHERE account_sid = ? AND name = ?"
        " ORDER BY is_default DESC, id LIMIT 1",
        account_sid,
        name,
    )
    pools = await _pools(conn, rows)
    return pools[0] if pools else None


async def list_pools(
    conn: Conn, account_sid: str, *, after: str | None, limit: int
) -> list[SenderPoolRecord]:
    bound = [after] if after is not None and bounded_above(after, "comms_senderpool_") else []
    rows = await conn.fetch(
        f"SELECT {_POOL_COLUMNS} FROM sender_pools WHERE account_sid = ?"
        f"{' AND id < ?' if bound else ''} ORDER BY id DESC LIMIT ?",
        account_sid,
        *bound,
        limit,
    )
    return await _pools(conn, rows)


async def delete_pool(conn: Conn, account_sid: str, pool_id: str) -> bool:
    changed = await conn.execute(
        "DELETE FROM sender_pools WHERE id = ? AND account_sid = ?", pool_id, account_sid
    )
    if changed:
        await conn.execute("DELETE FROM sender_pool_members WHERE pool_id = ?", pool_id)
    return changed == 1


async def set_default_pool(conn: Conn, account_sid: str, pool_id: str) -> None:
    """Make this the account's one default pool (used when a send names no `from`)."""
    await conn.execute(
        "UPDATE sender_pools SET is_default = CASE WHEN id = ? THEN 1 ELSE 0 END"
        " WHERE account_sid = ?",
        pool_id,
        account_sid,
    )
