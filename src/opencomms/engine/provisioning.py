"""Provisioning an account: a new account gets one simulator sender per channel and a
default pool in the fallback order RCS → WhatsApp → SMS (then email), so that a send
without `from` works at once. The operator's `[[senders]]` and `[[sender_pools]]` are
then provisioned into it, as into every existing account at each start (a configured
pool named `default` becomes the default pool).

The addresses of these senders are the operator's (store/sender_addresses.py): shared by
every account, and no account can register one as its own."""

from __future__ import annotations

import msgspec

from opencomms.domain.channels import SenderChannel
from opencomms.domain.durations import parse_duration_ms
from opencomms.domain.ids import new_sender_id, new_sender_pool_id
from opencomms.domain.sender_addresses import address_key
from opencomms.events.signing import new_webhook_secret
from opencomms.sealing import Sealer
from opencomms.settings import SenderConfig, SenderPoolConfig, Settings, SimulatorSettings
from opencomms.store import accounts, sender_addresses, senders
from opencomms.store.database import Conn
from opencomms.store.records import SenderPoolRecord, SenderRecord

__all__ = ["SIMULATOR_SENDERS", "provision_account", "provision_configured"]

DEFAULT_POOL = "default"

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
    configured: Settings | None = None,
) -> bool:
    """Create the account with its default pool, unless it exists; True when created.
    With `configured`, the operator's senders and pools are provisioned into it too."""
    created = await accounts.insert_account(
        conn,
        sid,
        auth_token=auth_token,
        auth_token_sealed=sealer.seal(auth_token),
        webhook_secret_sealed=sealer.seal(new_webhook_secret()),
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
        await sender_addresses.claim_for_operator(conn, "simulator", address_key(channel, address))
        await senders.insert_sender(conn, sender)
        made.append(sender.id)
    pool = SenderPoolRecord(new_sender_pool_id(), sid, DEFAULT_POOL, {}, True, made, now, now)
    await senders.insert_pool(conn, pool)
    if configured is not None:
        await provision_configured(conn, configured, now, account_sids=[sid])
    return True


async def provision_configured(
    conn: Conn, settings: Settings, now: int, *, account_sids: list[str] | None = None
) -> None:
    """Make the configured senders and pools exist, as configured, in these accounts (all
    when None). Idempotent: a sender is found by address and channel, a pool by name; a
    sender's status and tags, and a pool's tags, stay as the API left them. Their
    addresses, and the simulator's, are claimed for the operator first."""
    for channel, address in SIMULATOR_SENDERS:
        await sender_addresses.claim_for_operator(conn, "simulator", address_key(channel, address))
    for config in settings.senders:
        key = address_key(config.channel, config.address)
        await sender_addresses.claim_for_operator(conn, config.connector, key)
    if not (settings.senders or settings.sender_pools):
        return
    for sid in await accounts.list_account_sids(conn) if account_sids is None else account_sids:
        ids: dict[tuple[str, str], str] = {
            (sender.address, sender.channel): await _provision_sender(
                conn, settings, sender, sid, now
            )
            for sender in settings.senders
        }
        for pool in settings.sender_pools:
            members = [ids[member] for member in settings.pool_members(pool)]
            await _provision_pool(conn, pool, members, sid, now)


async def _provision_sender(
    conn: Conn, settings: Settings, config: SenderConfig, sid: str, now: int
) -> str:
    fallback_ms, receipt_ms = settings.configured_sender_durations(config)
    found = await senders.find_sender_by_address(conn, sid, config.address, config.channel)
    if found is None:
        sender = SenderRecord(
            new_sender_id(),
            sid,
            config.address,
            config.channel,
            config.connector,
            "ACTIVATED",
            {},
            fallback_ms,
            receipt_ms,
            now,
            now,
        )
        if await senders.insert_sender(conn, sender):
            return sender.id
        # another process made it meanwhile
        return await _provision_sender(conn, settings, config, sid, now)
    wanted = (config.connector, fallback_ms, receipt_ms)
    if (found.connector, found.fallback_timeout_ms, found.receipt_wait_ms) != wanted:
        await senders.update_sender(
            conn,
            msgspec.structs.replace(
                found,
                connector=config.connector,
                fallback_timeout_ms=fallback_ms,
                receipt_wait_ms=receipt_ms,
                updated_at=now,
            ),
        )
        if found.connector != config.connector:  # the API had moved it: free where it was
            key = address_key(found.channel, found.address)
            await sender_addresses.release(conn, found.connector, key, sid)
    return found.id


async def _provision_pool(
    conn: Conn, config: SenderPoolConfig, members: list[str], sid: str, now: int
) -> None:
    is_default = config.name == DEFAULT_POOL
    found = await senders.find_pool_by_name(conn, sid, config.name)
    if found is None:
        pool = SenderPoolRecord(
            new_sender_pool_id(), sid, config.name, {}, is_default, members, now, now
        )
        await senders.insert_pool(conn, pool)
    elif found.sender_ids != members or (is_default and not found.is_default):
        pool = msgspec.structs.replace(
            found, sender_ids=members, is_default=found.is_default or is_default, updated_at=now
        )
        await senders.update_pool(conn, pool)
    else:
        return
    if is_default:
        await senders.set_default_pool(conn, sid, pool.id)
