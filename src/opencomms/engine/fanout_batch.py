"""Fan-out of small operations in batches: many at a time, each batch one transaction.

A one-recipient send fanned out alone costs a claim, two reads and a write, for one
Message. Here up to BATCH_OPERATIONS operations claimed together are read in one query,
share one read of their senders and opt-outs, skip the renderer when they have no
templates (each templated one is rendered in one round trip), and are stored together:
their Messages in one bulk insert, their cursors moved, jobs deleted and settled
operations completed in the same transaction (store/new_messages.py `insert_batch`).
A crash before it commits leaves every operation as it was; a batch replayed after it
committed is a no-op (each operation's cursor has moved).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from functools import partial

from opencomms.domain.clock import now_ms
from opencomms.domain.new_messages import FanoutChunk
from opencomms.engine.fanout_recipients import build_chunk, templates_of
from opencomms.engine.rendering import Rendered, Renderer
from opencomms.store import jobs, new_messages, operations, opt_outs, senders
from opencomms.store.database import Conn, Database
from opencomms.store.new_messages import FanoutWork
from opencomms.store.records import SenderRecord

__all__ = ["BATCH_OPERATIONS", "SMALL", "BatchFanout"]

SMALL = 100  # recipients: an operation of up to this many is fanned out in a batch
BATCH_OPERATIONS = 200  # operations claimed at a time
BATCH_RECIPIENTS = 1_000  # recipients stored in one transaction (as a large one's chunk)

OptedOut = dict[str, str | None]


class BatchFanout:
    def __init__(self, db: Database, renderer: Renderer) -> None:
        self._db = db
        self._renderer = renderer

    async def fan_out(self, operation_ids: Sequence[str]) -> None:
        """Fan out these claimed operations (small ones), in as few transactions as
        BATCH_RECIPIENTS allows. Those gone (pruned) have their job finished."""
        works = await self._db.read(partial(new_messages.load_works, operation_ids=operation_ids))
        found = {work.operation_id for work in works}
        gone = sorted(set(operation_ids) - found)
        if gone:
            await self._db.write(partial(jobs.finish_many, kind="fanout", refs=gone))
        for group in _groups(works):
            fanned = await self._fanned(group)
            await self._db.write(partial(_store, fanned=fanned))

    async def _fanned(self, works: Sequence[FanoutWork]) -> list[tuple[FanoutWork, FanoutChunk]]:
        """What each operation's recipients left become."""
        pool, opted_out = await self._db.read(partial(_shared, works=works))
        fanned: list[tuple[FanoutWork, FanoutChunk]] = []
        for work in works:
            rendered = await self._rendered(work)
            ordered = [pool[i] for i in work.spec["senders"] if i in pool]
            end = len(work.recipients)
            chunk = build_chunk(
                work, work.cursor, end, ordered, rendered, now_ms(), opted_out[work.account_sid]
            )
            fanned.append((work, chunk))
        return fanned

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
