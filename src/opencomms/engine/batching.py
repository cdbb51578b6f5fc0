"""Reports from connectors (receipts, inbound messages), gathered and stored in batches.

A connector hands over one report at a time through a plain call (`accept`); a
background task takes whatever has gathered and stores it in one transaction, so a burst
of reports costs a few statements, not one transaction each. `accept` returns a future
that is done once its report is committed, for connectors that acknowledge to their
provider only then. While the database is unavailable, the reports wait in memory and
their futures stay pending; they are stored once it is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from opencomms.background.backoff import until_stored
from opencomms.store.database import Conn, Database

__all__ = ["BatchApplier"]

log = logging.getLogger(__name__)

T = TypeVar("T")

BATCH = 2_000
RETRY_S = 1.0


class BatchApplier(Generic[T]):
    def __init__(
        self,
        db: Database,
        apply: Callable[[Conn, list[T]], Awaitable[object]],
        *,
        batch: int = BATCH,
        max_backoff_s: float = 5.0,
    ) -> None:
        self._db = db
        self._max_backoff_s = max_backoff_s
        self._apply = apply
        self._batch = batch
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._arrived = asyncio.Event()

    def accept(self, report: T) -> asyncio.Future[None]:
        """Queue `report` for the next batch; the future is done once it is stored."""
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((report, stored))
        self._arrived.set()
        return stored

    @property
    def backlog(self) -> int:
        return len(self._pending)

    async def run(self) -> None:
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            while self._pending:
                try:
                    await until_stored(self._store_next, "storing reports", self._max_backoff_s)
                except Exception:
                    log.exception("storing a batch of reports failed; retrying")
                    await asyncio.sleep(RETRY_S)

    async def flush(self) -> None:
        """Store everything gathered so far (used at shutdown)."""
        while self._pending:
            await self._store_next()

    async def _store_next(self) -> None:
        batch, self._pending = self._pending[: self._batch], self._pending[self._batch :]
        try:
            await self._db.write(lambda conn: self._apply(conn, [report for report, _ in batch]))
        except BaseException:
            self._pending[:0] = batch
            raise
        for _, stored in batch:
            if not stored.done():
                stored.set_result(None)
