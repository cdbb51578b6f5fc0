"""Fan-out of small operations in batches: many at a time, each batch one transaction.

A one-recipient send fanned out alone costs a claim, two reads and a write, for one
Message. Here up to BATCH_OPERATIONS operations are claimed together and, in the same
transaction, read in one query with one read of their senders and opt-outs; they skip
the renderer when they have no templates (each templated one is rendered in one round
trip), and are stored together: their Messages in one bulk insert, their cursors
moved, jobs deleted and settled operations completed in the same transaction
(store/new_messages.py `insert_batch`). A crash before it commits leaves every operation
as it was; a batch replayed after it committed is a no-op (each cursor has moved).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from functools import partial

import msgspec

from opencomms.domain.clock import now_ms
from opencomms.domain.new_messages import FanoutChunk
from opencomms.domain.send_sizes import SMALL_SEND
from opencomms.engine.fanout_recipients import build_chunk, templates_of
from opencomms.engine.rendering import Rendered, Renderer
from opencomms.store import jobs, new_messages, operations, opt_outs, senders
from opencomms.store.database import Conn, Database
from opencomms.store.new_messages import FanoutWork
from opencomms.store.records import SenderRecord

__all__ = ["LEASE_MS", "Batch", "BatchFanout", "claim_batch"]

BATCH_OPERATIONS = 200  # operations claimed at a time
BATCH_RECIPIENTS = 1_000  # recipients stored in one transaction (as a large one's chunk)
# A claim is leased for LEASE_MS: a process that dies fanning out has its operations taken
# over by another once it runs out (their cursors make what it stored a no-op to redo).
# A large operation's lease is renewed with each chunk stored (engine/fanout.py); a batch
# is stored long before its lease runs out.
LEASE_MS = 30_000

OptedOut = dict[str, str | None]


class Batch(msgspec.Struct):
    """Small operations claimed together, with what their fan-out reads."""

    refs: list[str]  # every operation claimed (those gone included: their jobs are done)
    works: list[FanoutWork]
    pool: dict[str, SenderRecord]  # the senders of them all
    opted_out: dict[str, OptedOut]  # by account, among their recipients' addresses


async def claim_batch(conn: Conn, now: int) -> Batch:
    """Lease up to BATCH_OPERATIONS small operations, in turns between accounts, and read
    their work in the same transaction (one round trip fewer for a lone send); the jobs
    of operations gone since (pruned) are finished."""
    refs = await jobs.claim_fair(
        conn, "fanout", now=now, lease_ms=LEASE_MS, limit=BATCH_OPERATIONS, sizes=(0, SMALL_SEND)
    )
    if not refs:
        return Batch([], [], {}, {})
    works = await new_messages.load_works(conn, refs)
    await jobs.finish_many(conn, "fanout", sorted(set(refs) - {w.operation_id for w in works}))
    pool, opted_out = await _shared(conn, works)
    return Batch(refs, works, pool, opted_out)


class BatchFanout:
    def __init__(self, db: Database, renderer: Renderer) -> None:
        self._db = db
        self._renderer = renderer

    async def fan_out(self, batch: Batch) -> None:
        """Fan out a claimed batch, in as few transactions as BATCH_RECIPIENTS allows."""
        for group in _groups(batch.works):
            fanned = [(work, await self._chunk(batch, work)) for work in group]
            await self._db.write(partial(_store, fanned=fanned))

    async def _chunk(self, batch: Batch, work: FanoutWork) -> FanoutChunk:
        """What the operation's recipients left become."""
        rendered = await self._rendered(work)
        ordered = [batch.pool[i] for i in work.spec["senders"] if i in batch.pool]
        end = len(work.recipients)
        opted_out = batch.opted_out[work.account_sid]
        return build_chunk(work, work.cursor, end, ordered, rendered, now_ms(), opted_out)

    async def _rendered(self, work: FanoutWork) -> list[Rendered]:
        """Each recipient's rendered texts: without templates, no renderer round trip."""
        variables = [recipient.variables for recipient in work.recipients[work.cursor :]]
        templates = templates_of(work.spec)
        if not templates:
            return [Rendered(texts={}) for _ in variables]
        return await self._renderer.render(templates, variables)


def _groups(works: Sequence[FanoutWork]) -> Iterator[list[FanoutWork]]:
    """`works` in groups of at most BATCH_RECIPIENTS recipients left (at least one each)."""
    group: list[FanoutWork] = []
    size = 0
    for work in works:
        left = len(work.recipients) - work.cursor
        if group and size + left > BATCH_RECIPIENTS:
            yield group
            group, size = [], 0
        group.append(work)
        size += left
    if group:
        yield group


async def _shared(
    conn: Conn, works: Sequence[FanoutWork]
) -> tuple[dict[str, SenderRecord], dict[str, OptedOut]]:
    """What the batch's operations share: their senders, and each account's opt-outs
    among their recipients' addresses."""
    sender_ids = sorted({i for work in works for i in work.spec["senders"]})
    pool = await senders.get_senders(conn, sender_ids)
    addresses: dict[str, set[str]] = defaultdict(set)
    for work in works:
        addresses[work.account_sid].update(
            a.address for recipient in work.recipients[work.cursor :] for a in recipient.addresses
        )
    opted_out = {
        account_sid: await opt_outs.suppressed_channels(conn, account_sid, sorted(found))
        for account_sid, found in addresses.items()
    }
    return pool, opted_out


async def _store(conn: Conn, fanned: Sequence[tuple[FanoutWork, FanoutChunk]]) -> None:
    now = now_ms()
    stored = await new_messages.insert_batch(conn, fanned, now)
    await operations.complete_settled(conn, stored, now)
