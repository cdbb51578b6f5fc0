"""Provisioning an account: a new account gets one simulator sender per channel and a
default pool in the fallback order RCS → WhatsApp → SMS (then email), so that a send
without `from` works at once."""

from __future__ import annotations

from opencomms.domain.channels import SenderChannel
from opencomms.domain.durations import parse_duration_ms
from opencomms.domain.ids import new_sender_id, new_sender_pool_id
from opencomms.events.signing import new_webhook_secret
from opencomms.sealing import Sealer
from opencomms.settings import SimulatorSettings
from opencomms.store import accounts, senders
from opencomms.store.database import Conn
from opencomms.store.records import SenderPoolRecord, SenderRecord

__all__ = ["SIMULATOR_SENDERS", "provision_account"]

SIMULATOR_SENDERS: tuple[tuple[str, str], ...] = (
    (SenderChannel.RCS, "opencomms_rcs_agent"),
    (SenderChannel.WHATSAPP, "+15005550006"),
    (SenderChannel.SMS, "+15005550006"),
    (SenderChannel.EMAIL, "noreply@opencomms.test"),
)


async def provision_account(
    conn: Conn,
    *,
    sid: str,
    auth_token: str,
    friendly_name: str,
    simulator: SimulatorSettings,
    sealer: Sealer,
    now: int,
) -> bool:
    """Create the account with its default pool, unless it exists; True when created."""
    created = await accounts.insert_account(
        conn,
        sid,
        auth_token=auth_token,
        auth_token_sealed=sealer.seal(auth_token),
        webhook_secret=new_webhook_secret(),
        friendly_name=friendly_name,
        now=now,
    )
    if not created:
        return False
    fallback_ms = parse_duration_ms(simulator.fallback_timeout) or 0
    receipt_ms = parse_duration_ms(simulator.receipt_wait) or 0
    made = []
    for channel, address in SIMULATOR_SENDERS:
        sender = SenderRecord(
            new_sender_id(),
            sid,
            address,
            channel,
            "simulator",
            "ACTIVATED",
            {},
            fallback_ms,
            receipt_ms,
            now,
            now,
        )
        await senders.insert_sender(conn, sender)
        made.append(sender.id)
    pool = SenderPoolRecord(new_sender_pool_id(), sid, "default", {}, True, made, now, now)
    await senders.insert_pool(conn, pool)
    return True
