"""Callback sinks (made by a send's `callbacks.url`) that nobody uses any more go away.

A callback sink is unused when no send has named it and nothing was delivered to it for
`[sinks] callback_expiry` (30 days), and none of the sends linked to it is still
scheduled or running. The sweep looks at callback sinks only, at most once an hour.
"""

from __future__ import annotations

import asyncio
import logging

from opencomms.domain.clock import now_ms
from opencomms.store import sinks
from opencomms.store.database import Database

__all__ = ["expire_callback_sinks"]

log = logging.getLogger(__name__)

MAX_SWEEP_INTERVAL_S = 3600.0


async def expire_callback_sinks(db: Database, expiry_ms: int) -> None:
    """Sweep for unused callback sinks every `expiry_ms` (at most hourly), for ever."""
    interval = min(expiry_ms / 1000, MAX_SWEEP_INTERVAL_S)
    while True:
        await asyncio.sleep(interval)
        while expired := await db.write(
            lambda conn: sinks.expire_callback_sinks(conn, now_ms() - expiry_ms)
        ):
            log.info("deleted %d callback sinks unused for %d ms", len(expired), expiry_ms)
