"""Receipts: gathered from every connector and applied in batches.

Connectors report receipts through a plain callback (`accept`); a background task takes
whatever has gathered and applies it in one transaction (one UPDATE … per table), so a
burst of receipts costs a few statements, not one transaction each.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from opencomms.connectors.base import Receipt
from opencomms.engine.clock import now_ms
from opencomms.engine.outcomes import OutcomeBatch
from opencomms.store import delivery, senders
from opencomms.store.database import Conn, Database

__all__ = ["ReceiptApplier"]

log = logging.getLogger(__name__)

BATCH = 2_000
RETRY_S = 1.0


class ReceiptApplier:
    def __init__(self, db: Database, *, batch: int = BATCH) -> None:
        self._db = db
        self._batch = batch
        self._pending: list[Receipt] = []
        self._arrived = asyncio.Event()

    def accept(self, receipt: Receipt) -> None:
        """The connectors' receipt handler: queue it for the next batch."""
        self._pending.append(receipt)
        self._arrived.set()

    @property
    def backlog(self) -> int:
        return len(self._pending)

    async def run(self) -> None:
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            while self._pending:
                batch, self._pending = self._pending[: self._batch], self._pending[self._batch :]
                try:
                    await self._db.write(partial(apply_receipts, receipts=batch))
                except Exception:
                    log.exception("applying %d receipts failed; retrying", len(batch))
                    self._pending[:0] = batch
                    await asyncio.sleep(RETRY_S)

    async def flush(self) -> None:
        """Apply everything gathered so far (used at shutdown)."""
        while self._pending:
            batch, self._pending = self._pending[: self._batch], self._pending[self._batch :]
            await self._db.write(partial(apply_receipts, receipts=batch))


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
