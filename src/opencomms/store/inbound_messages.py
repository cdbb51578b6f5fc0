"""Inbound messages: stored as received, read back to render their events; and who
sent last to a writer from an address every account shares."""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter

import msgspec

from opencomms.store.database import Conn, placeholders

__all__ = ["InboundRecord", "get_inbound", "insert_inbound", "known_provider_ids", "last_sender_to"]


class InboundRecord(msgspec.Struct, frozen=True):
    id: str
    account_sid: str | None  # None: to an operator's address no account sent from to them
    connector: str
    channel: str
    from_address: str
    to_address: str
    text: str
    keyword: str | None
    provider_message_id: str | None
    received_at: int


_FIELDS = InboundRecord.__struct_fields__  # the columns of `inbound_messages`
_COLUMNS = ", ".join(_FIELDS)
_values = attrgetter(*_FIELDS)


async def insert_inbound(conn: Conn, records: Sequence[InboundRecord]) -> None:
    await conn.insert_many("inbound_messages", _FIELDS, [_values(record) for record in records])


async def known_provider_ids(conn: Conn, connector: str, ids: Sequence[str]) -> set[str]:
    """Which of these provider ids of `connector` an inbound message already has."""
    if not ids:
        return set()
    rows = await conn.fetch(
        "SELECT provider_message_id FROM inbound_messages WHERE connector = ?"
        f" AND provider_message_id IN ({placeholders(len(ids))})",
        connector,
        *ids,
    )
    return {str(row[0]) for row in rows}


async def get_inbound(conn: Conn, ids: Sequence[str]) -> dict[str, InboundRecord]:
    if not ids:
        return {}
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM inbound_messages WHERE id IN ({placeholders(len(ids))})", *ids
    )
    records = [InboundRecord(**dict(zip(_FIELDS, row, strict=True))) for row in rows]
    return {record.id: record for record in records}


async def last_sender_to(conn: Conn, connector: str, address_key: str, writer: str) -> str | None:
    """The account that sent last to `writer` from the address `address_key` on
    `connector` (through any of its senders there), if one did. Uses ix_attempts_to_address."""
    row = await conn.fetchrow(
        "SELECT a.account_sid FROM attempts a JOIN senders s ON s.id = a.sender_id"
        " WHERE a.to_address = ? AND a.connector = ? AND s.address_key = ?"
        " ORDER BY a.attempted_at DESC, a.id DESC LIMIT 1",
        writer,
        connector,
        address_key,
    )
    return None if row is None else str(row[0])
