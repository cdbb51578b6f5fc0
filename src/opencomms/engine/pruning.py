"""The pruner: data past its retention (`[retention]`) is deleted in the background.

Its story: `run` makes a pass every `interval` → each kind of data in turn (finished
operations with what hangs off them, delivered events, sink deliveries, idempotency keys,
inbound messages) → one batch of at most `batch_size` rows per short transaction, a
`pause` after each so that sending goes on between them, until nothing of that kind is
past its retention → sleep. Several processes may prune the same database: every batch
deletes by key, so one done twice deletes nothing the second time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from opencomms.domain.clock import now_ms
from opencomms.domain.durations import parse_duration_ms
from opencomms.settings import RetentionSettings
from opencomms.store import retention, sinks
from opencomms.store.database import Conn, Database
from opencomms.store.retention import Position

__all__ = ["Pruner", "RetentionPolicy"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each kind of data is kept, in milliseconds (None: forever), and the pace
    of the pruner."""

    operations_ms: int | None = 30 * 86_400_000
    events_ms: int | None = 7 * 86_400_000
    idempotency_keys_ms: int | None = 86_400_000
    inbound_ms: int | None = 30 * 86_400_000
    batch_size: int = 500
    pause_s: float = 0.05
    interval_s: float = 300.0

    @classmethod
    def from_settings(cls, retention: RetentionSettings) -> RetentionPolicy:
        return cls(
            operations_ms=retention.kept_ms("operations"),
            events_ms=retention.kept_ms("events"),
            idempotency_keys_ms=retention.kept_ms("idempotency_keys"),
            inbound_ms=retention.kept_ms("inbound"),
            batch_size=retention.batch_size,
            pause_s=(parse_duration_ms(retention.pause) or 0) / 1000,
            interval_s=(parse_duration_ms(retention.interval) or 300_000) / 1000,
        )


Step = Callable[[Conn], Awaitable[int]]


class Pruner:
    def __init__(self, db: Database, policy: RetentionPolicy) -> None:
        self._db = db
        self._policy = policy

    async def run(self) -> None:
        while True:
            await self.prune(now_ms())
            await asyncio.sleep(self._policy.interval_s)

    async def prune(self, now: int) -> dict[str, int]:
        """One pass: delete everything past its retention at `now`. Rows deleted, by kind."""
        policy, limit = self._policy, self._policy.batch_size
        deleted: dict[str, int] = {}
        if policy.operations_ms is not None:
            cutoff = now - policy.operations_ms
            deleted["operations"] = await self._prune_operations(cutoff, now)
            deleted["pruned operation records"] = await self._drain(
                lambda conn: retention.forget_pruned_operations(conn, cutoff, limit)
            )
        if policy.events_ms is not None:
            events_cutoff = now - policy.events_ms
            holds = await self._db.read(lambda conn: _undelivered(conn, events_cutoff))
            deleted["events"] = await self._drain(
                lambda conn: retention.prune_events(conn, events_cutoff, holds, limit)
            )
            deleted["sink deliveries"] = await self._drain(
                lambda conn: retention.prune_sink_deliveries(conn, events_cutoff, limit)
            )
        for kind, kept_ms, prune in (
            ("idempotency keys", policy.idempotency_keys_ms, retention.prune_idempotency_keys),
            ("inbound messages", policy.inbound_ms, retention.prune_inbound),
        ):
            if kept_ms is not None:
                deleted[kind] = await self._drain(_older_than(prune, now - kept_ms, limit))
        if any(deleted.values()):
            log.info("pruned %s", ", ".join(f"{n} {kind}" for kind, n in deleted.items() if n))
        return deleted

    async def _prune_operations(self, finished_before: int, now: int) -> int:
        """Retire expired operations one at a time, each cleared before the next (a
        record left uncleared by a crash is cleared first). How many were retired."""
        limit = self._policy.batch_size
        retired = 0
        while True:
            await self._drain(lambda conn: retention.clear_pruned_operation(conn, limit))
            if not await self._db.write(
                lambda conn: retention.retire_operation(conn, finished_before, now)
            ):
                return retired
            retired += 1

    async def _drain(self, step: Step) -> int:
        """Run `step` in its own transaction, pausing after each, until it deletes nothing."""
        total = 0
        while deleted := await self._db.write(step):
            total += deleted
            await asyncio.sleep(self._policy.pause_s)
        return total


def _older_than(prune: Callable[[Conn, int, int], Awaitable[int]], before: int, limit: int) -> Step:
    return lambda conn: prune(conn, before, limit)


async def _undelivered(conn: Conn, created_before: int) -> dict[str, Position]:
    """Per account, the first event written before `created_before` that one of its
    active sinks has still to deliver: that event and the account's later ones are kept.
    A sink that has nothing older than that to deliver holds nothing back."""
    holds: dict[str, Position] = {}
    for sink in await retention.active_sinks(conn):
        patterns = await sinks.subscription_types(conn, sink.id)
        first = await sinks.pending_events(conn, sink, patterns, 1)
        if first and first[0].created_at < created_before:
            position = (first[0].txid, first[0].seq)
            holds[sink.account_sid] = min(holds.get(sink.account_sid, position), position)
    return holds
