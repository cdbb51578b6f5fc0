"""Inbound messages: what recipients write back to our senders.

Each one is kept for every account that has a sender at the address it was written to,
and announced to that account as a `com.twilio.comms-api.message.inbound-received`
event. STOP and START keywords add the writer to the account's opt-out list and take it
off again; a STOP covers every channel (the recipient asked not to be messaged).
"""

from __future__ import annotations

import logging

from opencomms.connectors.base import Inbound
from opencomms.domain.ids import new_inbound_id, new_opt_out_id
from opencomms.domain.keywords import Keyword, keyword_of
from opencomms.engine.clock import now_ms
from opencomms.store import inbound, opt_outs
from opencomms.store.database import Conn
from opencomms.store.events import INBOUND_RECEIVED, EventRow, insert_events
from opencomms.store.opt_outs import OptOutRecord

__all__ = ["apply_inbound"]

log = logging.getLogger(__name__)


async def apply_inbound(conn: Conn, messages: list[Inbound]) -> None:
    """Store these inbound messages, announce them and apply their keywords."""
    now = now_ms()
    records: list[inbound.InboundRecord] = []
    for connector in {message.connector for message in messages}:
        batch = [message for message in messages if message.connector == connector]
        owners = await inbound.owners_of_senders(
            conn, connector, sorted({message.to_address for message in batch})
        )
        for message in batch:
            accounts = owners.get(message.to_address, [])
            if not accounts:
                log.warning("inbound message to %s on %s: no account has that sender",
                            message.to_address, connector)  # fmt: skip
            keyword = keyword_of(message.text)
            records += [_record(account, message, keyword, now) for account in accounts]
    if not records:
        return
    await inbound.insert_inbound(conn, records)
    await insert_events(conn, [_event(record) for record in records])
    for record in records:
        await _apply_keyword(conn, record)


def _record(
    account_sid: str, message: Inbound, keyword: Keyword | None, now: int
) -> inbound.InboundRecord:
    return inbound.InboundRecord(
        new_inbound_id(), account_sid, message.connector, message.channel,
        message.from_address, message.to_address, message.text,
        keyword.value if keyword else None, message.provider_message_id, now,
    )  # fmt: skip


def _event(record: inbound.InboundRecord) -> EventRow:
    return EventRow(
        record.account_sid, INBOUND_RECEIVED, "", record.id, None, "RECEIVED", None, None,
        record.received_at,
    )  # fmt: skip


async def _apply_keyword(conn: Conn, record: inbound.InboundRecord) -> None:
    if record.keyword == Keyword.STOP:
        entry = OptOutRecord(new_opt_out_id(), record.from_address, None, "KEYWORD",
                             record.received_at)  # fmt: skip
        await opt_outs.add_opt_out(conn, record.account_sid, entry)
    elif record.keyword == Keyword.START:
        await opt_outs.remove_opt_out(conn, record.account_sid, record.from_address)
