"""Event delivery: each sink's events, in batches, signed, retried until they get through.

Its story: `run` finds the sinks that may have work (those of accounts with new events,
those due to retry, those replaying: an idle sink costs no query) → one task per sink (so
a slow or failing sink holds one slot, never the others) → `deliver_once` reads the
sink's next round of events after its cursor and sends it as lanes of batches, the lanes
at once, each lane's batches in order (events/lanes.py: a Message's events are all in one
lane, so they arrive in order), each batch POSTed (bounded: events/posting.py) and its
outcome recorded: 2xx moves the cursor and the lanes' marks; 410 disables the sink;
anything else (a timeout, a redirect, a 5xx, a refused address) stops that lane and
schedules a retry of the sink with backoff, for up to `max_retry` (72 h), after which
the batch is given up and logged. The other lanes of the round go on; the next round
sends what the failed lane did not deliver, and nothing the others did.

One process at a time delivers a sink: it holds the sink's ownership lease
(`sink:<id>`, background/ownership.py) and keeps it while it runs; the others leave the
sink alone, and take it over when the lease runs out (its owner died). A batch's outcome
is recorded only while the lease is still held (fenced in the same transaction): a
process that lost it sends nothing more, and its batches out, unrecorded, are sent again
by the new owner. Each event is delivered once, in order for its Message, absent
failures; at least once across a takeover.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import httpx

from opencomms.background.backoff import until_stored
from opencomms.background.ownership import Ownership
from opencomms.background.wakeup import Wakeup
from opencomms.domain.clock import now_ms
from opencomms.events.cloudevents import encode_batch, encode_event
from opencomms.events.payloads import event_id
from opencomms.events.posting import PostLimits, PostResult, post_bounded
from opencomms.events.retry import backoff_ms, retry_after_ms
from opencomms.events.signing import delivery_message_id, signed_headers
from opencomms.events.sink_reading import SinkRound, read_round
from opencomms.events.ssrf import CallbackPolicy, GuardedTransport
from opencomms.metrics.instruments import sink_delivery
from opencomms.sealing import Sealer
from opencomms.store import sinks
from opencomms.store.database import Conn, Database
from opencomms.store.errors import StoreUnavailable
from opencomms.store.outbox_watch import OutboxWatch
from opencomms.store.sinks import PendingEvent, SinkRecord

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
    lanes: int = 8  # batches of one sink in flight at once (events/lanes.py)
    timeout_s: float = 15.0  # each step: connect, send, each read
    max_retry_ms: int = 72 * 3_600_000
    concurrency: int = 32
    limits: PostLimits = field(default_factory=PostLimits)
    max_backoff_s: float = 5.0  # while the database is unavailable


Write = Callable[[Conn], Awaitable[None]]


@dataclass(frozen=True)
class _Change:
    """What a batch's outcome changes, computed on the loop, written by `_record`."""

    outcome: str
    now: int
    events: int
    first_id: str
    last_id: str
    next_attempt: int | None
    writes: tuple[Write, ...]
    status_code: int | None
    error: str | None
    elapsed_ms: int

    async def apply(self, conn: Conn) -> None:
        for write in self.writes:
            await write(conn)

    def delivery_row(self, sink_id: str) -> tuple[object, ...]:
        """Its line in the sink's delivery log (`sink_deliveries`)."""
        return (
            sink_id, self.now, self.events, self.first_id, self.last_id, self.outcome,
            self.status_code, self.error, self.elapsed_ms, self.next_attempt,
        )  # fmt: skip


@dataclass
class _Pending:
    """A batch's outcome waiting to be recorded, and the caller waiting for it."""

    change: _Change
    recorded: asyncio.Future[str]


@dataclass
class _Flight:
    """A round being sent: its lanes record their batches one at a time."""

    found: SinkRound
    stopped: bool = False  # the sink was disabled or taken over: no more POSTs
    failed: bool = False  # a batch of this round failed: the sink stays failing
    # one write at a time; the outcomes that came meanwhile go together in the next one
    recording: asyncio.Lock = field(default_factory=asyncio.Lock)
    pending: list[_Pending] = field(default_factory=list)

    def change(
        self, outcome: str, events: list[PendingEvent], result: PostResult, elapsed_ms: int
    ) -> _Change:
        """The writes of a batch's outcome, in the order outcomes came: each one's cursor
        and marks include every batch delivered before it."""
        sink, now = self.found.sink, now_ms()
        next_attempt = None
        if outcome in ("DELIVERED", "ABANDONED"):
            self.found.round.progress.passed(events)
            writes = self.moved_on(now)
        elif outcome == "DISABLED":
            writes = (partial(
                sinks.set_sink_state, sink_id=sink.id, status="DISABLED", tries=sink.tries + 1,
                failing_since=sink.failing_since or now, next_attempt_at=now, now=now,
            ),)  # fmt: skip
        else:
            self.failed = True
            delay = max(backoff_ms(sink.tries), retry_after_ms(result.retry_after, now) or 0)
            next_attempt = now + delay
            writes = (partial(
                sinks.set_sink_state, sink_id=sink.id, status="ACTIVE", tries=sink.tries + 1,
                failing_since=sink.failing_since or now, next_attempt_at=next_attempt, now=now,
            ),)  # fmt: skip
        first, last = event_id(events[0].seq), event_id(events[-1].seq)
        return _Change(
            outcome, now, len(events), first, last, next_attempt, writes,
            result.status_code, result.error, elapsed_ms,
        )  # fmt: skip

    def moved_on(self, now: int) -> tuple[Write, ...]:
        """Past what was delivered: the sink's cursor and its lanes' marks, or its
        replay's cursor. The sink is healthy again once a round got through whole."""
        found, sink = self.found, self.found.sink
        cursor = found.round.cursor() or (sink.cursor_txid, sink.cursor_seq)
        if found.replay is not None:
            return (
                partial(sinks.advance_replay, replay_id=found.replay.id, txid=cursor[0],
                        seq=cursor[1]),
                partial(sinks.advance_cursor, sink_id=sink.id, txid=sink.cursor_txid,
                        seq=sink.cursor_seq, now=now),
            )  # fmt: skip
        healthy = found.round.done() and not self.failed
        marks = found.round.progress.encode(cursor)
        return (
            partial(sinks.save_progress, sink_id=sink.id, cursor=cursor, lanes=marks,
                    now=now, healthy=healthy),
        )  # fmt: skip


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
            # every lane of every sink at once, each on a connection of its own
            limits=httpx.Limits(max_connections=policy.concurrency * policy.lanes),
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
        """Send the next round of this sink (its lanes at once, each batch after batch);
        True when every event of it was delivered (or given up on after `max_retry`), so
        that the next may follow. Only while this process holds the sink's lease (it takes
        it if it can)."""
        if not await self._ownership.take(_lease(sink_id)):
            self._elsewhere.add(sink_id)
            return False
        policy = self._policy
        found = await self._db.read(
            lambda conn: read_round(conn, self._sealer, sink_id, policy.lanes, policy.batch_size)
        )
        if found is None:
            return False
        if not found.round.window and found.replay is not None:  # the replayed range is sent
            replay_id = found.replay.id
            await self._db.write(lambda conn: sinks.finish_replay(conn, replay_id))
            return True
        flight = _Flight(found)
        if not found.round.lanes:  # the lanes' marks cover the whole window: move past it
            return await self._db.write(lambda conn: self._catch_up(conn, flight))
        ended = await asyncio.gather(
            *(self._lane(flight, lane) for lane in found.round.lanes), return_exceptions=True
        )
        for error in ended:  # every lane has ended: what it sent is recorded
            if isinstance(error, BaseException):
                raise error
        return not flight.stopped and found.round.done()

    async def _catch_up(self, conn: Conn, flight: _Flight) -> bool:
        """Store the cursor past events delivered before (fenced, as every record)."""
        if not await self._ownership.confirm(conn, _lease(flight.found.sink.id)):
            return False
        for write in flight.moved_on(now_ms()):
            await write(conn)
        return True

    async def _lane(self, flight: _Flight, lane: list[list[PendingEvent]]) -> None:
        """Send a lane's batches in order; stop at the first that does not get through.
        The next batch goes once the receiver took the one before, while that one's
        outcome is being recorded (a record waits its turn behind the dispatcher's writes:
        waiting for it before each POST held the sink to a few batches a second); the lane
        ends once every outcome it had is recorded."""
        recording: list[asyncio.Task[str]] = []
        try:
            for events in lane:
                if flight.stopped or not self._ownership.holds(_lease(flight.found.sink.id)):
                    return
                pending = await self._post(flight, events)
                if pending is None:
                    return
                recording.append(asyncio.create_task(self._recorded(flight, pending)))
                if pending.change.outcome not in ("DELIVERED", "ABANDONED"):
                    return
        finally:
            await asyncio.gather(*recording)

    async def _post(self, flight: _Flight, events: list[PendingEvent]) -> _Pending | None:
        """POST one batch; its outcome, waiting to be recorded (None when the flight
        stopped meanwhile: nothing is recorded, the batch is sent again)."""
        found = flight.found
        envelopes = [found.envelopes[event.seq] for event in events]
        # a sink that does not batch gets each event alone, as one object (batches of 1)
        body = encode_batch(envelopes) if found.sink.batch_events else encode_event(envelopes[0])
        signed = signed_headers(
            found.sink.url,
            body,
            auth_token=found.auth_token,
            webhook_secret=found.webhook_secret,
            message_id=delivery_message_id(_ids(events)),
        )
        started = time.monotonic()
        result = await post_bounded(
            self._client, signed.url, body, signed.headers, self._policy.limits
        )
        elapsed = int((time.monotonic() - started) * 1000)
        if flight.stopped:
            return None
        outcome = self._outcome(found.sink, result.status_code)
        sink_delivery(found.sink.id, outcome, now_ms() - events[0].created_at)
        pending = _Pending(flight.change(outcome, events, result, elapsed), _future())
        flight.pending.append(pending)
        return pending

    async def _recorded(self, flight: _Flight, pending: _Pending) -> str:
        """The batch's outcome once recorded (LOST when it could not be)."""
        async with flight.recording:
            if not pending.recorded.done():  # a write in progress did not take it: one now
                await self._record_pending(flight)
        return pending.recorded.result()

    async def _record_pending(self, flight: _Flight) -> None:
        """Record every outcome waiting, in one transaction (while one write is out, the
        other lanes' outcomes gather for the next: a record per batch would queue behind
        the dispatcher's writes, one after another, and hold every lane back)."""
        waiting, flight.pending = flight.pending, []
        sink_id = flight.found.sink.id
        try:
            if flight.stopped:  # disabled or taken over by an earlier write: nothing more
                outcomes = ["LOST"] * len(waiting)
            else:  # the batches are out: wait for the database rather than send them twice
                outcomes = await until_stored(
                    partial(self._db.write, lambda conn: self._record(conn, sink_id, waiting)),
                    f"recording a delivery to sink {sink_id}",
                    self._policy.max_backoff_s,
                )
        except asyncio.CancelledError:
            for item in waiting:
                item.recorded.cancel()
            raise
        except Exception as error:  # each lane raises it as its own outcome
            for item in waiting:
                item.recorded.set_exception(error)
            return
        for item, outcome in zip(waiting, outcomes, strict=True):
            item.recorded.set_result(outcome)
            if outcome in ("LOST", "DISABLED"):
                flight.stopped = True

    def _outcome(self, sink: SinkRecord, status_code: int | None) -> str:
        if status_code is not None and 200 <= status_code < 300:
            return "DELIVERED"
        if status_code == 410:
            return "DISABLED"
        failing_since = sink.failing_since
        if failing_since is not None and now_ms() - failing_since >= self._policy.max_retry_ms:
            return "ABANDONED"
        return "FAILED"

    async def _record(self, conn: Conn, sink_id: str, waiting: list[_Pending]) -> list[str]:
        """Record the outcomes of these batches' POSTs, in order, and return them; LOST
        (nothing recorded: the new owner sends the batches again) when another process
        took the sink over, and for those after one that disabled the sink."""
        if not await self._ownership.confirm(conn, _lease(sink_id)):
            log.warning("sink %s was taken over by another process", sink_id)
            return ["LOST"] * len(waiting)
        outcomes: list[str] = []
        for item in waiting:
            change = item.change
            if "DISABLED" in outcomes:
                outcomes.append("LOST")
                continue
            await change.apply(conn)
            if change.outcome == "ABANDONED":
                log.error("sink %s: giving up on %d events", sink_id, change.events)
            await sinks.record_delivery(conn, change.delivery_row(sink_id))
            outcomes.append(change.outcome)
        return outcomes


def _lease(sink_id: str) -> str:
    return "sink:" + sink_id


def _ids(events: Sequence[PendingEvent]) -> list[str]:
    return [event_id(e.seq) for e in events]


def _future() -> asyncio.Future[str]:
    return asyncio.get_running_loop().create_future()
