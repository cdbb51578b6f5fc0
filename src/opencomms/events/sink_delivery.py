"""Event delivery: each sink's events, in batches, signed, retried until they get through.

Its story: `run` finds the sinks that may have work (those of accounts with new events,
those due to retry, those replaying: an idle sink costs no query) → one task per sink (so
a slow or failing sink holds one slot, never the others) → `deliver_once` reads the next
batch after the sink's cursor, POSTs it (bounded: events/posting.py), and records the
outcome: 2xx moves the cursor; 410 disables the sink; anything else (a timeout, a
redirect, a 5xx, a refused address) schedules a retry with backoff, for up to
`max_retry` (72 h), after which the batch is given up and logged.

One process at a time delivers a sink: it holds the sink's ownership lease
(`sink:<id>`, background/ownership.py) and keeps it while it runs; the others leave the
sink alone, and take it over when the lease runs out (its owner died). A batch's outcome
is recorded only while the lease is still held (fenced in the same transaction): a
process that lost it sends nothing more, and its last batch, unrecorded, is sent again
by the new owner. Each event is delivered once, in order, absent failures; at least
once across a takeover.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import httpx

from opencomms.background.backoff import until_stored
from opencomms.background.ownership import Ownership
from opencomms.background.wakeup import Wakeup
from opencomms.domain.clock import now_ms
from opencomms.domain.event_types import MESSAGE_INBOUND_RECEIVED
from opencomms.events.cloudevents import encode_batch
from opencomms.events.payloads import event_id, render
from opencomms.events.posting import PostLimits, post_bounded
from opencomms.events.retry import backoff_ms, retry_after_ms
from opencomms.events.signing import delivery_message_id, signed_headers
from opencomms.events.ssrf import CallbackPolicy, GuardedTransport
from opencomms.sealing import Sealer
from opencomms.store import accounts, inbound_messages, sinks
from opencomms.store.database import Conn, Database
from opencomms.store.errors import StoreUnavailable
from opencomms.store.outbox_watch import OutboxWatch
from opencomms.store.sinks import PendingEvent, Replay, SinkRecord

__all__ = ["DeliveryPolicy", "EventDelivery"]

log = logging.getLogger(__name__)

IDLE_POLL_S = 0.2
# After a ring, look again this often for this long: on PostgreSQL, events are seen once
# every older transaction on the server has ended (store/outbox_watch.py), and the one
# still open at the ring's round may be one that rings nobody when it ends (another
# process's, a lease renewal).
RECHECK_S = 0.05
RECHECK_FOR_S = 2.0


@dataclass(frozen=True)
class DeliveryPolicy:
    batch_size: int = 100
    timeout_s: float = 15.0  # each step: connect, send, each read
    max_retry_ms: int = 72 * 3_600_000
    concurrency: int = 32
    limits: PostLimits = field(default_factory=PostLimits)
    max_backoff_s: float = 5.0  # while the database is unavailable


@dataclass
class _Batch:
    sink: SinkRecord
    events: list[PendingEvent]
    body: bytes
    auth_token: str
    webhook_secret: str
    replay: Replay | None = None


class EventDelivery:
    def __init__(
        self,
        db: Database,
        sealer: Sealer,
        callbacks: CallbackPolicy,
        policy: DeliveryPolicy = DeliveryPolicy(),
        ownership: Ownership | None = None,
    ) -> None:
        """`ownership`: this process's leases (the runtime's, renewed in the background);
        without it, the worker takes its own (renewed as it delivers)."""
        self._db = db
        self._ownership = ownership or Ownership(db)
        self._sealer = sealer
        self._policy = policy
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(callbacks),
            timeout=policy.timeout_s,
            follow_redirects=False,
        )
        self._watch = OutboxWatch()
        self._busy: set[str] = set()
        self._again: set[str] = set()  # busy sinks found due again: one more round each
        self._woken: set[str] = set()  # sinks to look at whether their account has news
        # sinks another process delivers: looked at again when their lease may run out
        self._elsewhere: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(policy.concurrency)
        self._wakeup = Wakeup(IDLE_POLL_S)
        self._rung_at = float("-inf")

    def ring(self) -> None:
        """Events were committed: look for news now rather than at the next poll."""
        self._rung_at = time.monotonic()
        self._wakeup.ring()

    def wake(self, sink_id: str) -> None:
        """Look at this sink at the next round (its subscriptions changed)."""
        self._woken.add(sink_id)
        self._wakeup.ring()

    async def run(self) -> None:
        while True:
            woken, self._woken = self._woken, set()
            try:
                due = await self._db.read(self._due_sinks)
            except Exception:
                self._watch = OutboxWatch()  # its news were not acted on: look at all again
                self._woken |= woken
                raise
            for sink_id in sorted(due | woken | self._elsewhere):
                if self._ownership.may_take(_lease(sink_id)):
                    self._elsewhere.discard(sink_id)
                    self._start(sink_id)
            await self._rest()

    async def _rest(self) -> None:
        """Until rung, or the poll; shortly after a ring, on PostgreSQL, only RECHECK_S."""
        recent = time.monotonic() - self._rung_at <= RECHECK_FOR_S
        if not recent or self._db.dialect != "postgresql":
            await self._wakeup.wait()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), RECHECK_S)

    async def _due_sinks(self, conn: Conn) -> set[str]:
        news = await self._watch.news(conn)
        return await sinks.due_sink_ids(conn, now_ms(), news)

    def _start(self, sink_id: str) -> None:
        if sink_id in self._busy:  # its task may have read before the news: it goes on
            self._again.add(sink_id)
            return
        self._busy.add(sink_id)
        task = asyncio.create_task(self._serve(sink_id), name=f"sink {sink_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()

    async def _serve(self, sink_id: str) -> None:
        """Deliver this sink's batches one after another while its cursor moves on."""
        try:
            async with self._slots:
                while True:
                    while await self.deliver_once(sink_id):
                        pass
                    if sink_id not in self._again:
                        break
                    self._again.discard(sink_id)
        except StoreUnavailable as error:
            log.warning("delivery to sink %s waits for the database: %s", sink_id, error)
        except Exception:
            log.exception("delivery to sink %s failed unexpectedly", sink_id)
        finally:
            self._again.discard(sink_id)
            self._busy.discard(sink_id)

    async def deliver_once(self, sink_id: str) -> bool:
        """Send the next batch of this sink; True when its cursor moved past it
        (delivered, or given up on after `max_retry`). Only while this process holds the
        sink's lease (it takes it if it can)."""
        if not await self._ownership.take(_lease(sink_id)):
            self._elsewhere.add(sink_id)
            return False
        batch = await self._db.read(lambda conn: self._next_batch(conn, sink_id))
        if batch is None:
            return False
        if not batch.events and batch.replay is not None:  # the replayed range is all sent
            replay_id = batch.replay.id
            await self._db.write(lambda conn: sinks.finish_replay(conn, replay_id))
            return True
        signed = signed_headers(
            batch.sink.url,
            batch.body,
            auth_token=batch.auth_token,
            webhook_secret=batch.webhook_secret,
            message_id=delivery_message_id(_ids(batch.events)),
        )
        started = time.monotonic()
        status_code, retry_after, error = await post_bounded(
            self._client, signed.url, batch.body, signed.headers, self._policy.limits
        )
        elapsed = int((time.monotonic() - started) * 1000)
        # the batch is out: wait for the database to record it rather than send it twice
        outcome = await until_stored(
            partial(
                self._db.write,
                lambda conn: self._record(conn, batch, status_code, error, retry_after, elapsed),
            ),
            f"recording a delivery to sink {sink_id}",
            self._policy.max_backoff_s,
        )
        return outcome in ("DELIVERED", "ABANDONED")

    async def _record(
        self,
        conn: Conn,
        batch: _Batch,
        status_code: int | None,
        error: str | None,
        retry_after: str | None,
        elapsed_ms: int,
    ) -> str:
        """Record the outcome of a batch's POST, and return it; LOST (nothing recorded:
        the new owner sends the batch again) when another process took the sink over."""
        if not await self._ownership.confirm(conn, _lease(batch.sink.id)):
            log.warning("sink %s was taken over by another process", batch.sink.id)
            return "LOST"
        return await self._record_owned(conn, batch, status_code, error, retry_after, elapsed_ms)

    async def _next_batch(self, conn: Conn, sink_id: str) -> _Batch | None:
        sink = await sinks.sink_by_id(conn, sink_id)
        # a sink waiting to retry is not due, even when a round found it due while it was
        # busy with the delivery that failed (`_again`)
        if sink is None or sink.status != "ACTIVE" or sink.next_attempt_at > now_ms():
            return None
        patterns = await sinks.subscription_types(conn, sink.id)
        replay = None
        events = await sinks.pending_events(conn, sink, patterns, self._policy.batch_size)
        if not events:  # the live stream is idle: resend a replayed range, if one waits
            replay = await sinks.next_replay(conn, sink.id)
            if replay is None:
                return None
            events = await sinks.pending_events(
                conn, sink, patterns, self._policy.batch_size, replay
            )
            if not events:
                return _Batch(sink, [], b"", "", "", replay)
        contexts = await sinks.attempt_contexts(
            conn, [e.attempt_id for e in events if e.attempt_id]
        )
        secrets = await accounts.signing_secrets(conn, sink.account_sid)
        if secrets is None:
            return None
        token = self._sealer.unseal(secrets.auth_token_sealed)
        account_secret = self._sealer.unseal(secrets.webhook_secret_sealed)
        received = await inbound_messages.get_inbound(
            conn,
            [e.message_id for e in events if e.type == MESSAGE_INBOUND_RECEIVED and e.message_id],
        )
        body = encode_batch(render(events, contexts, received, sink.account_sid))
        webhook_secret = (
            account_secret if sink.kind == "callback" else self._sealer.unseal(sink.secret_sealed)
        )
        return _Batch(sink, events, body, token, webhook_secret, replay)

    async def _record_owned(
        self,
        conn: Conn,
        batch: _Batch,
        status_code: int | None,
        error: str | None,
        retry_after: str | None,
        elapsed_ms: int,
    ) -> str:
        """Record the outcome of a batch's POST, and return it."""
        now = now_ms()
        sink, last = batch.sink, batch.events[-1]
        next_attempt: int | None = None
        if status_code is not None and 200 <= status_code < 300:
            outcome = "DELIVERED"
            await self._move_on(conn, batch, now)
        elif status_code == 410:
            outcome = "DISABLED"
            await sinks.set_sink_state(
                conn, sink.id, status="DISABLED", tries=sink.tries + 1,
                failing_since=sink.failing_since or now, next_attempt_at=now, now=now,
            )  # fmt: skip
        elif (
            sink.failing_since is not None and now - sink.failing_since >= self._policy.max_retry_ms
        ):
            outcome = "ABANDONED"
            log.error(
                "sink %s: giving up on %d events after %d tries",
                sink.id,
                len(batch.events),
                sink.tries,
            )
            await self._move_on(conn, batch, now)
        else:
            outcome = "FAILED"
            delay = max(backoff_ms(sink.tries), retry_after_ms(retry_after, now) or 0)
            next_attempt = now + delay
            await sinks.set_sink_state(
                conn, sink.id, status="ACTIVE", tries=sink.tries + 1,
                failing_since=sink.failing_since or now, next_attempt_at=next_attempt, now=now,
            )  # fmt: skip
        await sinks.record_delivery(
            conn,
            (
                sink.id, now, len(batch.events), event_id(batch.events[0].seq), event_id(last.seq),
                outcome, status_code, error, elapsed_ms, next_attempt,
            ),
        )  # fmt: skip
        return outcome

    @staticmethod
    async def _move_on(conn: Conn, batch: _Batch, now: int) -> None:
        """Past this batch: the sink's cursor, or its replay's (the sink is healthy again)."""
        last = batch.events[-1]
        if batch.replay is None:
            await sinks.advance_cursor(conn, batch.sink.id, last.txid, last.seq, now)
            return
        await sinks.advance_replay(conn, batch.replay.id, last.txid, last.seq)
        cursor = (batch.sink.cursor_txid, batch.sink.cursor_seq)
        await sinks.advance_cursor(conn, batch.sink.id, *cursor, now)


def _lease(sink_id: str) -> str:
    return "sink:" + sink_id


def _ids(events: Sequence[PendingEvent]) -> list[str]:
    return [event_id(e.seq) for e in events]
