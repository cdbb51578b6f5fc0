"""Inbound messages: what recipients write back to our senders.

An inbound message goes to the account that owns the address it was written to on its
connector (store/sender_addresses.py), and to no other. When that address is the
operator's (shared by every account), it goes to the account that sent last to the
writer from it; when none did, it is stored with no account, and no account sees it.
It is announced to its account as a `com.twilio.comms-api.message.inbound-received`
event. STOP and START keywords add the writer to that account's opt-out list and take it
off again; a STOP covers every channel (the recipient asked not to be messaged).
"""

from __future__ import annotations

import logging

from msgspec.structs import replace

from opencomms.connectors.base import Inbound
from opencomms.domain.addresses import normalize_address
from opencomms.domain.channels import RecipientChannel, SenderChannel
from opencomms.domain.clock import now_ms
from opencomms.domain.ids import new_inbound_id, new_opt_out_id
from opencomms.domain.keywords import Keyword, keyword_of
from opencomms.domain.sender_addresses import address_key
from opencomms.domain.storable import storable_id, storable_struct
from opencomms.store import inbound_messages, opt_outs, sender_addresses
from opencomms.store.database import Conn
from opencomms.store.events import inbound_event, insert_events
from opencomms.store.opt_outs import OptOutRecord

__all__ = ["apply_inbound", "storable_inbound"]

log = logging.getLogger(__name__)

_WRITER_CHANNEL: dict[str, str] = {
    SenderChannel.SMS: RecipientChannel.PHONE,
    SenderChannel.RCS: RecipientChannel.PHONE,
    SenderChannel.WHATSAPP: RecipientChannel.WHATSAPP,
    SenderChannel.EMAIL: RecipientChannel.EMAIL,
}


def storable_inbound(message: Inbound) -> Inbound:
    """A connector's inbound message as it can be stored: every text storable, and the
    addresses (the writer's is indexed on the opt-out list) no longer than an id."""
    message = storable_struct(message)
    return replace(
        message,
        from_address=storable_id(message.from_address),
        to_address=storable_id(message.to_address),
    )


async def apply_inbound(conn: Conn, messages: list[Inbound]) -> None:
    """Store these inbound messages, announce them and apply their keywords."""
    now = now_ms()
    records: list[inbound_messages.InboundRecord] = []
    for connector in sorted({message.connector for message in messages}):
        batch = await _not_heard_before(
            conn, connector, [message for message in messages if message.connector == connector]
        )
        keys = [address_key(message.channel, message.to_address) for message in batch]
        owners = await sender_addresses.owners(conn, connector, sorted(set(keys)))
        for message, key in zip(batch, keys, strict=True):
            if key not in owners:
                log.warning("inbound message to %s on %s: no account has that sender",
                            message.to_address, connector)  # fmt: skip
                continue
            writer = _writer(message)
            account = owners[key]
            if account is sender_addresses.OPERATOR:
                account = await inbound_messages.last_sender_to(conn, connector, key, writer)
            records.append(_record(account, message, writer, keyword_of(message.text), now))
    if not records:
        return
    await inbound_messages.insert_inbound(conn, records)
    seen = [(record.account_sid, record) for record in records if record.account_sid is not None]
    await insert_events(
        conn, [inbound_event(account, record.id, record.received_at) for account, record in seen]
    )
    for account, record in seen:
        await _apply_keyword(conn, account, record)


async def _not_heard_before(conn: Conn, connector: str, batch: list[Inbound]) -> list[Inbound]:
    """The messages of `batch` not stored before: a provider that reports one again (a
    webhook retried after a lost answer, or after a restart) is heard once."""
    ids = sorted({m.provider_message_id for m in batch if m.provider_message_id is not None})
    seen = await inbound_messages.known_provider_ids(conn, connector, ids)
    fresh: list[Inbound] = []
    for message in batch:
        if message.provider_message_id is not None:
            if message.provider_message_id in seen:
                continue
            seen.add(message.provider_message_id)
        fresh.append(message)
    return fresh


def _writer(message: Inbound) -> str:
    """The writer's address as a recipient's is stored (so that it matches the attempts
    sent to them and the opt-out list), or as given when it is not in that form."""
    channel = _WRITER_CHANNEL.get(message.channel, RecipientChannel.PHONE)
    return normalize_address(message.from_address, channel) or message.from_address


def _record(
    account_sid: str | None, message: Inbound, writer: str, keyword: Keyword | None, now: int
) -> inbound_messages.InboundRecord:
    return inbound_messages.InboundRecord(
        id=new_inbound_id(),
        account_sid=account_sid,
        connector=message.connector,
        channel=message.channel,
        from_address=writer,
        to_address=message.to_address,
        text=message.text,
        keyword=keyword.value if keyword else None,
        provider_message_id=message.provider_message_id,
        received_at=now,
    )


async def _apply_keyword(
    conn: Conn, account_sid: str, record: inbound_messages.InboundRecord
) -> None:
    if record.keyword == Keyword.STOP:
        entry = OptOutRecord(
            id=new_opt_out_id(),
            address=record.from_address,
            channel=None,  # a STOP covers every channel
            source="KEYWORD",
            created_at=record.received_at,
        )
        await opt_outs.add_opt_out(conn, account_sid, entry)
    elif record.keyword == Keyword.START:
        await opt_outs.remove_opt_out(conn, account_sid, record.from_address)
