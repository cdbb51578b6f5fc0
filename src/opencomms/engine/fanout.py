"""Fan-out: one Message per addressable recipient (engine/fanout_recipients.py), stored
with the bulk insert path, in two lanes.

Small operations (up to SMALL_SEND recipients: codes, alerts, receipts) are claimed many
at a time and fanned out in batches, each batch one transaction (engine/fanout_batch.py).
Large ones are fanned out one at a time, a chunk of CHUNK recipients per transaction,
under a lease renewed with each chunk. Each lane claims in turns between accounts
(store/jobs.py `claim_fair`), and neither waits for the other: a campaign being fanned
out does not hold back a one-recipient send.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from functools import partial

from opencomms.background.backoff import until_stored
from opencomms.background.wakeup import Wakeup
from opencomms.domain.clock import now_ms
from opencomms.domain.new_messages import FanoutChunk
from opencomms.domain.send_sizes import SMALL_SEND
from opencomms.engine.fanout_batch import LEASE_MS, BatchFanout, claim_batch
from opencomms.engine.fanout_recipients import build_chunk, templates_of
from opencomms.engine.rendering import Rendered, Renderer
from opencomms.store import jobs, new_messages, operations, opt_outs, senders
from opencomms.store.database import Conn, Database
from opencomms.store.new_messages import FanoutWork

__all__ = ["FanoutWorker"]

log = logging.getLogger(__name__)

CHUNK = 1_000
IDLE_POLL_S = 0.2
RETRY_MS = 5_000
LARGE = (SMALL_SEND + 1, 2**31 - 1)  # the sizes of the large lane's jobs


class FanoutWorker:
    def __init__(
        self,
        db: Database,
        renderer: Renderer,
        on_messages: Callable[[], None],
        *,
        max_backoff_s: float = 5.0,
    ) -> None:
        self._db = db
        self._renderer = renderer
        self._max_backoff_s = max_backoff_s
        self._on_messages = on_messages
        self._batches = BatchFanout(db, renderer)
        self._small_wakeup = Wakeup(IDLE_POLL_S)
        self._large_wakeup = Wakeup(IDLE_POLL_S)

    def wake(self, recipients: int) -> None:
        """An operation of `recipients` is ready: its lane claims now. Only its own lane:
        a flood of single sends must not keep the large lane claiming in vain."""
        if recipients <= SMALL_SEND:
            self._small_wakeup.ring()
        else:
            self._large_wakeup.ring()

    async def run_small(self) -> None:
        """The small operations' lane: claim a batch, fan it out, wake the dispatcher."""
        while True:
            batch = await self._db.write(lambda conn: claim_batch(conn, now_ms()))
            if not batch.refs:
                await self._small_wakeup.wait()
                continue
            try:
                await until_stored(
                    partial(self._batches.fan_out, batch), "fan-out batch", self._max_backoff_s
                )
            except Exception:
                log.exception("fan-out of a batch failed; its operations go one at a time")
                for work in batch.works:
                    await self._one(work.operation_id)
            self._on_messages()

    async def run_large(self) -> None:
        """The large operations' lane: one at a time, a chunk per transaction."""
        claim = partial(jobs.claim_fair, kind="fanout", lease_ms=LEASE_MS, limit=1, sizes=LARGE)
        while True:
            refs = await self._db.write(lambda conn: claim(conn, now=now_ms()))
            if not refs:
                await self._large_wakeup.wait()
                continue
            for operation_id in refs:
                await self._one(operation_id)

    async def _one(self, operation_id: str) -> None:
        """Fan out one operation chunk by chunk; on a failure, it is tried again later."""
        try:
            # while the database is away, this operation waits and goes on after
            await until_stored(
                partial(self.fan_out, operation_id),
                f"fan-out of {operation_id}",
                self._max_backoff_s,
            )
        except Exception:
            log.exception("fan-out of %s failed; retrying", operation_id)
            await self._db.write(
                partial(
                    jobs.retry_later,
                    kind="fanout",
                    ref=operation_id,
                    run_at=now_ms() + RETRY_MS,
                )
            )

    async def fan_out(self, operation_id: str) -> None:
        work = await self._db.read(lambda conn: new_messages.load_work(conn, operation_id))
        if work is None:
            await self._db.write(lambda conn: jobs.finish(conn, "fanout", operation_id))
            return
        pool = await self._db.read(lambda conn: senders.get_senders(conn, work.spec["senders"]))
        ordered = [pool[i] for i in work.spec["senders"] if i in pool]
        templates = templates_of(work.spec)
        async with aclosing(self._rendered_chunks(work, templates)) as chunks:
            async for start, end, rendered in chunks:
                opted_out = await self._db.read(
                    partial(_opted_out, work=work, start=start, end=end)
                )
                chunk = build_chunk(work, start, end, ordered, rendered, now_ms(), opted_out)
                stored = await self._db.write(partial(_store, work=work, chunk=chunk))
                if not stored:
                    return
                self._on_messages()
                await asyncio.sleep(0)

    async def _rendered_chunks(
        self, work: FanoutWork, templates: dict[str, str]
    ) -> AsyncGenerator[tuple[int, int, list[Rendered]], None]:
        """(start, end, each recipient's rendering) of every chunk left. The next chunk is
        given to the renderer before this one is handed over, so that it renders while
        this one is stored."""
        total = len(work.recipients)
        bounds = [(start, min(start + CHUNK, total)) for start in range(work.cursor, total, CHUNK)]
        if not bounds:
            return
        rendering = asyncio.create_task(self._render(work, templates, *bounds[0]))
        try:
            for index, (start, end) in enumerate(bounds):
                rendered = await rendering
                if index + 1 < len(bounds):
                    next_chunk = bounds[index + 1]
                    rendering = asyncio.create_task(self._render(work, templates, *next_chunk))
                yield start, end, rendered
        finally:
            rendering.cancel()

    async def _render(
        self, work: FanoutWork, templates: dict[str, str], start: int, end: int
    ) -> list[Rendered]:
        variables = [recipient.variables for recipient in work.recipients[start:end]]
        return await self._renderer.render(templates, variables)


async def _opted_out(conn: Conn, work: FanoutWork, start: int, end: int) -> dict[str, str | None]:
    addresses = {a.address for recipient in work.recipients[start:end] for a in recipient.addresses}
    return await opt_outs.suppressed_channels(conn, work.account_sid, sorted(addresses))


async def _store(conn: Conn, work: FanoutWork, chunk: FanoutChunk) -> bool:
    now = now_ms()
    await jobs.renew(conn, "fanout", work.operation_id, until=now + LEASE_MS)
    stored = await new_messages.insert_chunk(conn, work, chunk, now)
    if stored and chunk.end == len(work.recipients):
        await operations.complete_settled(conn, [work.operation_id], now)
    return stored
