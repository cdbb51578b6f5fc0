"""Message parts (a long SMS sent in several) and receipts that came before their answer.

A provider reports on each part by the part's own id; `attempt_parts` finds the attempt
and keeps each part's last status. A receipt whose id no attempt or part carries yet
waits in `early_receipts` until the submit's answer that carries it is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter

from opencomms.domain.parts import EarlyReceipt, Part
from opencomms.store.database import Conn, Row, placeholders

__all__ = [
    "forget_early_receipts",
    "hold_early_receipts",
    "insert_parts",
    "matched_early_receipt_ids",
    "parts_of_attempts_with",
    "save_part_statuses",
    "take_early_receipts",
]


# rows are read and written by column name: each struct's fields are its table's columns
_PART_COLUMNS = Part.__struct_fields__
_EARLY_COLUMNS = EarlyReceipt.__struct_fields__
_part_values = attrgetter(*_PART_COLUMNS)
_early_values = attrgetter(*_EARLY_COLUMNS)


def _part(row: Row) -> Part:
    return Part(**dict(zip(_PART_COLUMNS, row, strict=True)))


def _early_receipt(row: Row) -> EarlyReceipt:
    return EarlyReceipt(**dict(zip(_EARLY_COLUMNS, row, strict=True)))


async def insert_parts(conn: Conn, parts: Sequence[Part]) -> None:
    if parts:
        await conn.executemany(
            f"INSERT INTO attempt_parts ({', '.join(_PART_COLUMNS)})"
            f" VALUES ({placeholders(len(_PART_COLUMNS))}) ON CONFLICT (provider_message_id)"
            " DO NOTHING",
            [_part_values(part) for part in parts],
        )


async def parts_of_attempts_with(conn: Conn, provider_ids: Sequence[str]) -> list[Part]:
    """Every part of the attempts that have a part with one of these ids."""
    if not provider_ids:
        return []
    rows = await conn.fetch(
        f"SELECT {', '.join(_PART_COLUMNS)} FROM attempt_parts"
        " WHERE attempt_id IN (SELECT attempt_id FROM attempt_parts"
        f"  WHERE provider_message_id IN ({placeholders(len(provider_ids))}))"
        " ORDER BY attempt_id, part",
        *provider_ids,
    )
    return [_part(row) for row in rows]


async def save_part_statuses(conn: Conn, parts: Sequence[Part]) -> None:
    if parts:
        await conn.executemany(
            "UPDATE attempt_parts SET status = ? WHERE provider_message_id = ?",
            [(part.status, part.provider_message_id) for part in parts],
        )


async def hold_early_receipts(conn: Conn, receipts: Sequence[EarlyReceipt]) -> None:
    await conn.insert_many(
        "early_receipts", _EARLY_COLUMNS, [_early_values(receipt) for receipt in receipts]
    )


async def take_early_receipts(conn: Conn, provider_ids: Sequence[str]) -> list[EarlyReceipt]:
    """The receipts waiting for these ids, removed from the waiting list in one statement
    (a SELECT then a DELETE could delete a receipt committed in between, unseen). On
    PostgreSQL a receipt another transaction is taking (the sweep of another process, or
    of this one) is skipped: that one applies it, and neither waits for the other."""
    if not provider_ids or not await conn.fetchrow("SELECT 1 FROM early_receipts LIMIT 1"):
        return []  # the usual case: nothing overtook its answer
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect == "postgresql" else ""
    rows = await conn.fetch(
        "DELETE FROM early_receipts WHERE seq IN (SELECT seq FROM early_receipts"
        f" WHERE provider_message_id IN ({placeholders(len(provider_ids))}){lock})"
        f" RETURNING {', '.join(_EARLY_COLUMNS)}, seq",
        *provider_ids,
    )
    # in the order they came (`seq`, the last column)
    return [_early_receipt(row[:-1]) for row in sorted(rows, key=lambda row: row[-1])]


async def matched_early_receipt_ids(conn: Conn, limit: int) -> list[str]:
    """Ids of waiting receipts whose attempt or part is now known."""
    rows = await conn.fetch(
        "SELECT DISTINCT e.provider_message_id FROM early_receipts e"
        " WHERE EXISTS (SELECT 1 FROM attempts a"
        "  WHERE a.provider_message_id = e.provider_message_id)"
        " OR EXISTS (SELECT 1 FROM attempt_parts p"
        "  WHERE p.provider_message_id = e.provider_message_id)"
        " LIMIT ?",
        limit,
    )
    return [row[0] for row in rows]


async def forget_early_receipts(conn: Conn, received_before: int) -> int:
    """Drop receipts that never found their message (another system's, or lost ids)."""
    return await conn.execute("DELETE FROM early_receipts WHERE received_at < ?", received_before)
