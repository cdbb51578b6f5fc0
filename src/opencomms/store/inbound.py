"""Inbound messages: stored as received, read back to render their events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from opencomms.store.database import Conn, placeholders

__all__ = ["InboundRecord", "get_inbound", "insert_inbound", "owners_of_senders"]


class InboundRecord(NamedTuple):
    id: str
    account_sid: str
    connector: str
    channel: str
    from_address: str
    to_address: str
    text: str
    keyword: str | None
    provider_message_id: str | None
    received_at: int


_COLUMNS = ", ".join(InboundRecord._fields)


async def insert_inbound(conn: Conn, records: Sequence[InboundRecord]) -> None:
    await conn.insert_many("inbound_messages", InboundRecord._fields, records)


async def get_inbound(conn: Conn, ids: Sequence[str]) -> dict[str, InboundRecord]:
    if not ids:
        return {}
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM inbound_messages WHERE id IN ({placeholders(len(ids))})", *ids
    )
    return {row[0]: InboundRecord(*row) for row in rows}


async def owners_of_senders(
    conn: Conn, connector: str, addresses: Sequence[str]
) -> dict[str, list[str]]:
    """The accounts that have a sender at each of `addresses` on `connector`."""
    if not addresses:
        return {}
    rows = await conn.fetch(
        "SELECT DISTINCT address, account_sid FROM senders"
        f" WHERE connector = ? AND address IN ({placeholders(len(addresses))})",
        connector,
        *addresses,
    )
    owners: dict[str, list[str]] = {}
    for address, account_sid in rows:
        owners.setdefault(address, []).append(account_sid)
    return owners
