"""SenderPool Operations: the record of each pool create and each add of senders.

Pools change in one transaction, so an operation is written COMPLETED with its outcome
(`created`: senders added, `failed`: none, as a refused request changes nothing)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from opencomms.store.database import Conn

__all__ = [
    "PoolOperationRecord",
    "get_pool_operation",
    "insert_pool_operation",
    "list_pool_operations",
]

_COLUMNS = (
    "id, account_sid, pool_id, status, total, queued, created, failed, created_at, updated_at"
)


class PoolOperationRecord(msgspec.Struct, frozen=True):
    id: str
    account_sid: str
    pool_id: str
    status: str
    total: int
    queued: int
    created: int
    failed: int
    created_at: int
    updated_at: int


def _record(row: Sequence[Any]) -> PoolOperationRecord:
    return PoolOperationRecord(*row)


async def insert_pool_operation(conn: Conn, operation: PoolOperationRecord) -> None:
    await conn.execute(
        f"INSERT INTO sender_pool_operations ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        *msgspec.structs.astuple(operation),
    )


async def get_pool_operation(
    conn: Conn, account_sid: str, operation_id: str
) -> PoolOperationRecord | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM sender_pool_operations WHERE id = ? AND account_sid = ?",
        operation_id,
        account_sid,
    )
    return None if row is None else _record(row)


async def list_pool_operations(
    conn: Conn, account_sid: str, before: str, limit: int
) -> list[PoolOperationRecord]:
    """Newest first, below `before` (an id, or the pager's top, which sorts after ids
    in every collation only as `comms_operation_z…`)."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM sender_pool_operations WHERE account_sid = ? AND id < ?"
        " ORDER BY id DESC LIMIT ?",
        account_sid,
        min(before, "comms_operation_" + "z" * 26),
        limit,
    )
    return [_record(row) for row in rows]
