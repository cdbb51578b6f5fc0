"""Message parts (a long SMS sent in several) and receipts that came before their answer.

A provider reports on each part by the part's own id; `attempt_parts` finds the attempt
and keeps each part's last status. A receipt whose id no attempt or part carries yet
waits in `early_receipts` until the submit's answer that carries it is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from opencomms.store.database import Conn, placeholders

__all__ = [
    "EarlyReceipt",
    "Part",
    "forget_early_receipts",
    "hold_early_receipts",
    "insert_parts",
    "matched_early_receipt_ids",
    "parts_of_attempts_with",
    "save_part_statuses",
    "take_early_receipts",
]


class Part(NamedTuple):
    provider_message_id: str
    attempt_id: str
    part: int
    status: str


class EarlyReceipt(NamedTuple):
    provider_message_id: str
    status: str
    error_code: int | None
    error_message: str | None
    received_at: int


async def insert_parts(conn: Conn, parts: Sequence[Part]) -> None:
    if parts:
        await conn.executemany(
            "INSERT INTO attempt_parts (provider_message_id, attempt_id, part, status)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (provider_message_id) DO NOTHING",
            parts,
        )


async def parts_of_attempts_with(conn: Conn, provider_ids: Sequence[str]) -> list[Part]:
    """Every part of the attempts that have a part with one of these ids."""
    if not provider_ids:
        return []
    rows = await conn.fetch(
        "SELECT provider_message_id, attempt_id, part, status FROM attempt_parts"
        " WHERE attempt_id IN (SELECT attempt_id FROM attempt_parts"
        f"  WHERE provider_message_id IN ({placeholders(len(provider_ids))}))"
        " ORDER BY attempt_id, part",
        *provider_ids,
    )
    return [Part(*row) for row in rows]


async def save_part_statuses(conn: Conn, parts: Sequence[Part]) -> None:
    if parts:
        await conn.executemany(
            "UPDATE attempt_parts SET status = ? WHERE provider_message_id = ?",
            [(part.status, part.provider_message_id) for part in parts],
        )


async def hold_early_receipts(conn: Conn, receipts: Sequence[EarlyReceipt]) -> None:
    await conn.insert_many("early_receipts", EarlyReceipt._fields, receipts)


async def take_early_receipts(conn: Conn, provider_ids: Sequence[str]) -> list[EarlyReceipt]:
    """The receipts waiting for these ids, removed from the waiting list in one statement
    (a SELECT then a DELETE could delete a receipt committed in between, unseen)."""
    if not provider_ids or not await conn.fetchrow("SELECT 1 FROM early_receipts LIMIT 1"):
        return []  # the usual case: nothing overtook its answer
    rows = await conn.fetch(
        "DELETE FROM early_receipts"
        f" WHERE provider_message_id IN ({placeholders(len(provider_ids))})"
        " RETURNING seq, provider_message_id, status, error_code, error_message, received_at",
        *provider_ids,
    )
    return [EarlyReceipt(*row[1:]) for row in sorted(rows, key=lambda row: row[0])]


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
