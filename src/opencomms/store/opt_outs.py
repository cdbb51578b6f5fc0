"""The per-account suppression list: addresses that asked not to be messaged."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from opencomms.store.database import Conn, Row, placeholders

__all__ = [
    "OptOutRecord",
    "add_opt_out",
    "get_opt_out",
    "list_opt_outs",
    "remove_opt_out",
    "suppressed_channels",
]


class OptOutRecord(msgspec.Struct, frozen=True):
    """An entry of the suppression list (whether it bars a send: domain/opt_outs.py)."""

    id: str
    address: str
    channel: str | None  # None: every channel
    source: str  # API or KEYWORD
    created_at: int


_COLUMNS = ", ".join(OptOutRecord.__struct_fields__)


def _record(row: Row) -> OptOutRecord:
    """A row of `SELECT {_COLUMNS}`, by column name."""
    return OptOutRecord(**dict(zip(OptOutRecord.__struct_fields__, row, strict=True)))


async def add_opt_out(conn: Conn, account_sid: str, record: OptOutRecord) -> OptOutRecord:
    """Add `record`, or update the address's entry (which keeps its id and date)."""
    await conn.execute(
        "INSERT INTO opt_outs (account_sid, address, id, channel, source, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account_sid, address)"
        " DO UPDATE SET channel = excluded.channel, source = excluded.source",
        account_sid, record.address, record.id, record.channel, record.source,
        record.created_at,
    )  # fmt: skip
    stored = await get_opt_out(conn, account_sid, record.address)
    assert stored is not None  # written just above, in this transaction
    return stored


async def get_opt_out(conn: Conn, account_sid: str, address: str) -> OptOutRecord | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM opt_outs WHERE account_sid = ? AND address = ?",
        account_sid,
        address,
    )
    return _record(row) if row else None


async def remove_opt_out(conn: Conn, account_sid: str, address: str) -> bool:
    removed = await conn.execute(
        "DELETE FROM opt_outs WHERE account_sid = ? AND address = ?", account_sid, address
    )
    return removed > 0


async def list_opt_outs(
    conn: Conn, account_sid: str, *, before: str, limit: int
) -> list[OptOutRecord]:
    """Newest first, below the id `before`."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM opt_outs WHERE account_sid = ? AND id < ?"
        " ORDER BY id DESC LIMIT ?",
        account_sid,
        before,
        limit,
    )
    return [_record(row) for row in rows]


async def suppressed_channels(
    conn: Conn, account_sid: str, addresses: Sequence[str]
) -> dict[str, str | None]:
    """Which of `addresses` are opted out, and of which channel (None: all)."""
    if not addresses:
        return {}
    if (
        await conn.fetchrow("SELECT 1 FROM opt_outs WHERE account_sid = ? LIMIT 1", account_sid)
        is None
    ):
        return {}  # the common case: nobody of this account opted out, skip the lookup
    rows = await conn.fetch(
        "SELECT address, channel FROM opt_outs"
        f" WHERE account_sid = ? AND address IN ({placeholders(len(addresses))})",
        account_sid,
        *addresses,
    )
    return {address: channel for address, channel in rows}
