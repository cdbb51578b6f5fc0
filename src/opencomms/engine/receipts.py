"""Receipts: the attempts they move, applied a batch at a time (one UPDATE … per table)."""

from __future__ import annotations

from opencomms.connectors.base import Receipt
from opencomms.engine.clock import now_ms
from opencomms.engine.outcomes import OutcomeBatch
from opencomms.store import delivery, senders
from opencomms.store.database import Conn

__all__ = ["apply_receipts"]


async def apply_receipts(conn: Conn, receipts: list[Receipt]) -> list[str]:
    """Move the attempts these receipts are about; the operations this COMPLETED."""
    by_attempt = [r.attempt_id for r in receipts if r.attempt_id]
    by_provider = [
        r.provider_message_id for r in receipts if not r.attempt_id and r.provider_message_id
    ]
    pairs = await delivery.attempts_by_id(conn, sorted(set(by_attempt)))
    provider_pairs = await delivery.attempts_by_provider_id(conn, sorted(set(by_provider)))
    known = await senders.get_senders(
        conn, sorted({a.sender_id for a, _ in pairs + provider_pairs})
    )
    batch = OutcomeBatch(now_ms(), known)
    batch.track(pairs + provider_pairs)
    provider_index = {a.provider_message_id: a.id for a, _ in provider_pairs}
    for receipt in receipts:
        attempt_id = receipt.attempt_id or provider_index.get(receipt.provider_message_id)
        if attempt_id is None or attempt_id not in batch.attempts:
            continue  # not ours, or from a database that no longer has it
        error = (
            (receipt.error_code, receipt.error_message or "")
            if receipt.error_code is not None
            else None
        )
        batch.reach(attempt_id, receipt.status, error=error)
    return await batch.save(conn)
