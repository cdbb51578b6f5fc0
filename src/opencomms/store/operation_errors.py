"""An operation's errors, grouped by code: its failed Messages and its unaddressable
recipients. The counts come from a GROUP BY on indexes that hold only those rows
(`ix_messages_operation_errors`, `ix_unaddressable_errors`), so an operation of 100,000
Messages costs its failures, not its size; the samples are a few rows per code."""

from __future__ import annotations

from typing import Any, NamedTuple

from opencomms.store.database import Conn
from opencomms.store.jsoncol import load
from opencomms.store.schema import FAILED_WITH_CODE

__all__ = ["ErrorSample", "error_counts", "error_samples"]


class ErrorSample(NamedTuple):
    message_id: str | None  # None: an unaddressable recipient, which has no Message
    recipient_index: int | None
    recipient: Any
    error_message: str


async def error_counts(
    conn: Conn, operation_id: str, after: int | None, limit: int
) -> list[tuple[int, int]]:
    """(code, count) of the operation's errors by code, ascending, above `after`."""
    bound = "" if after is None else " AND error_code > ?"
    bound_args = [] if after is None else [after]
    rows = await conn.fetch(
        "SELECT error_code, SUM(n) FROM ("
        " SELECT error_code, COUNT(*) AS n FROM messages"
        f" WHERE operation_id = ? AND {FAILED_WITH_CODE}{bound} GROUP BY error_code"
        " UNION ALL"
        " SELECT error_code, COUNT(*) AS n FROM unaddressable"
        f" WHERE operation_id = ?{bound} GROUP BY error_code"
        ") AS counted GROUP BY error_code ORDER BY error_code LIMIT ?",
        operation_id,
        *bound_args,
        operation_id,
        *bound_args,
        limit,
    )
    return [(int(code), int(count)) for code, count in rows]


async def error_samples(conn: Conn, operation_id: str, code: int, limit: int) -> list[ErrorSample]:
    """Up to `limit` of the operation's errors with `code`: Messages first, oldest first."""
    rows = await conn.fetch(
        "SELECT id, recipient, error_message FROM messages"
        f" WHERE operation_id = ? AND error_code = ? AND {FAILED_WITH_CODE}"
        " ORDER BY id LIMIT ?",
        operation_id,
        code,
        limit,
    )
    samples = [ErrorSample(row[0], None, load(row[1]), row[2] or "") for row in rows]
    if len(samples) < limit:
        rows = await conn.fetch(
            "SELECT recipient_index, recipient, error_message FROM unaddressable"
            " WHERE operation_id = ? AND error_code = ? ORDER BY recipient_index LIMIT ?",
            operation_id,
            code,
            limit - len(samples),
        )
        samples += [ErrorSample(None, row[0], load(row[1]), row[2]) for row in rows]
    return samples
