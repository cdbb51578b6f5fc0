"""Several batches of one sink in flight, each Message's events in order (events/lanes.py).

A backlog of message events is written to a real outbox (both engines) and delivered to a
real threaded receiver that answers some batches slowly and some with 500: several
batches are in flight at once, every event is accepted exactly once, each Message's
events are accepted in the order they were written, and what a lane delivered is
recorded so that a new owner sends only the rest."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from opencomms.background.ownership import Ownership
from opencomms.domain.clock import now_ms
from opencomms.domain.ids import new_message_id, new_operation_id
from opencomms.events.lanes import LaneProgress, Round, lane_of
from opencomms.events.sink_delivery import DeliveryPolicy, EventDelivery
from opencomms.events.ssrf import CallbackPolicy
from opencomms.store import events, sinks
from opencomms.store.database import Conn, Database
from opencomms.store.events import message_event
from opencomms.store.sinks import PendingEvent
from tests.events.test_idle_sinks import SEALER, db, make_account, make_sink, url

__all__ = ["db", "url"]  # the fixtures, shared with test_idle_sinks

STATUSES = ["QUEUED", "SENT", "DELIVERED", "READ"]
MESSAGES = 60
POLICY = DeliveryPolicy(batch_size=20, lanes=4)
LOOPBACK = CallbackPolicy.from_cidrs(["127.0.0.0/8"])


class Receiver:
    """Accepts a batch after `answer(events)` decides how: a status and a delay."""

    def __init__(self, answer: Callable[[list[dict[str, str]]], tuple[int, float]]) -> None:
        self.answer = answer
        self.accepted: list[dict[str, str]] = []  # in the order the answers were given
        self.refused = 0
        self.in_flight = self.most_in_flight = 0
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        batch = json.loads(request.get_data())
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        status, delay = self.answer(batch)
        time.sleep(delay)
        with self._lock:
            self.in_flight -= 1
            if status == 200:
                self.accepted += batch
            else:
                self.refused += 1
        return Response("", status=status)


@pytest.fixture
def receiver_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()


async def write_backlog(db: Database, account: str) -> dict[str, list[str]]:
    """Each Message's events, interleaved in the outbox as a send writes them (every
    Message queued, then every one sent, ...); the statuses of each Message."""
    operation, messages = new_operation_id(), [new_message_id() for _ in range(MESSAGES)]
    for status in STATUSES:
        rows = [message_event(account, operation, m, None, status, now_ms()) for m in messages]
        await db.write(lambda conn, rows=rows: events.insert_events(conn, rows))
    return {m: [s.lower() for s in STATUSES] for m in messages}


def per_message(accepted: list[dict[str, str]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for event in accepted:
        found[event["source"].rsplit("/", 1)[1]].append(event["type"].rsplit(".", 1)[1])
    return dict(found)


async def deliver_until(delivery: EventDelivery, done: Callable[[], bool]) -> None:
    worker = asyncio.create_task(delivery.run())
    try:
        for _ in range(1200):
            if done():
                return

            await asyncio.sleep(0.05)
        raise AssertionError("the events were not delivered in time")
    finally:
        worker.cancel()
        await delivery.close()


async def test_batches_in_flight_at_once_keep_each_messages_order(
    db: Database, receiver_server: HTTPServer
) -> None:
    def some_slow(batch: list[dict[str, str]]) -> tuple[int, float]:
        return 200, 0.3 if batch[0]["id"][-1] in "02468" else 0.0

    receiver = Receiver(some_slow)
    receiver_server.expect_request("/hook").respond_with_handler(receiver)
    account = await make_account(db)
    await make_sink(db, account, receiver_server.url_for("/hook"))
    expected = await write_backlog(db, account)

    delivery = EventDelivery(db, SEALER, LOOPBACK, POLICY)
    await deliver_until(delivery, lambda: len(receiver.accepted) >= MESSAGES * len(STATUSES))

    assert receiver.most_in_flight > 1
    assert len(receiver.accepted) == len({e["id"] for e in receiver.accepted})  # once each
    assert per_message(receiver.accepted) == expected


async def test_a_failing_lane_holds_back_nothing_of_the_others_and_loses_nothing(
    db: Database, receiver_server: HTTPServer
) -> None:
    refusals = {"left": 3}

    def some_fail(batch: list[dict[str, str]]) -> tuple[int, float]:
        if refusals["left"] > 0 and len(batch) == POLICY.batch_size:
            refusals["left"] -= 1
            return 500, 0.1
        return 200, 0.05

    receiver = Receiver(some_fail)
    receiver_server.expect_request("/hook").respond_with_handler(receiver)
    account = await make_account(db)
    sink_id = await make_sink(db, account, receiver_server.url_for("/hook"))
    expected = await write_backlog(db, account)

    delivery = EventDelivery(db, SEALER, LOOPBACK, POLICY)
    await deliver_until(delivery, lambda: len(receiver.accepted) >= MESSAGES * len(STATUSES))

    assert receiver.refused == 3
    assert len(receiver.accepted) == len({e["id"] for e in receiver.accepted})
    assert per_message(receiver.accepted) == expected
    log = await db.read(lambda conn: sinks.list_deliveries(conn, sink_id, 100))
    assert [row["outcome"] for row in log].count("FAILED") == 3


async def test_a_new_owner_sends_what_a_failing_lane_left_and_nothing_the_others_sent(
    db: Database, receiver_server: HTTPServer
) -> None:
    stuck: list[str] = []  # every batch with this Message's events is refused

    def refuse_stuck(batch: list[dict[str, str]]) -> tuple[int, float]:
        return (500 if any(e["source"].endswith(stuck[0]) for e in batch) else 200), 0.0

    receiver = Receiver(refuse_stuck)
    receiver_server.expect_request("/hook").respond_with_handler(receiver)
    account = await make_account(db)
    sink_id = await make_sink(db, account, receiver_server.url_for("/hook"))
    expected = await write_backlog(db, account)
    stuck.append(next(iter(expected)))
    first_owner = Ownership(db)
    delivery = EventDelivery(db, SEALER, LOOPBACK, POLICY, first_owner)
    for _ in range(600):  # rounds until one has failed (PostgreSQL shows events late)
        assert not await delivery.deliver_once(sink_id)  # nothing, or a lane failed
        if receiver.refused:
            break
        await asyncio.sleep(0.05)
    await delivery.close()
    await first_owner.release_all()
    first = list(receiver.accepted)
    stored = await db.read(lambda conn: sinks.lane_progress(conn, sink_id))

    receiver.answer = lambda batch: (200, 0.0)
    delivery = EventDelivery(db, SEALER, LOOPBACK, POLICY, Ownership(db))
    await deliver_until(delivery, lambda: len(receiver.accepted) >= MESSAGES * len(STATUSES))

    assert first and stored is not None  # the other lanes got on, and it was recorded
    assert receiver.refused == 1
    assert not any(e["source"].endswith(stuck[0]) for e in first)
    assert len(receiver.accepted) == len({e["id"] for e in receiver.accepted})
    assert per_message(receiver.accepted) == expected


def event(seq: int, message: str) -> PendingEvent:
    return PendingEvent(seq, 0, "t", "OP", message, None, None, None, None, 0)


def test_a_round_splits_by_message_and_its_cursor_stops_at_the_first_event_not_sent() -> None:
    window = [event(seq, f"M{seq % 7}") for seq in range(1, 41)]
    found = Round(window, LaneProgress(3), batch_size=5)

    for lane in found.lanes:
        sent = [e for batch in lane for e in batch]
        assert sent == sorted(sent)  # in outbox order
        assert all(len(batch) <= 5 for batch in lane)
    keys = [{e.message_id for batch in lane for e in batch} for lane in found.lanes]
    assert sum(len(k) for k in keys) == 7  # each Message in one lane only
    first_lane = found.lanes[0]
    found.progress.passed(first_lane[0])
    assert found.cursor() == ((0, 1) if window[0] in first_lane[0] else None)

    stored = found.progress.encode((0, 0))
    again = Round(window, LaneProgress.decode(stored, 3), batch_size=5)
    assert sorted(e for lane in again.lanes for b in lane for e in b) == sorted(
        set(window) - set(first_lane[0])
    )
    assert LaneProgress.decode(stored, 4).marks == [None] * 4  # other lanes: sent again


def test_a_backlog_that_fits_in_one_batch_goes_in_one_batch_in_outbox_order() -> None:
    window = [event(seq, f"M{seq % 3}") for seq in range(1, 6)]

    found = Round(window, LaneProgress(4), batch_size=5)

    assert found.lanes == [[window]]
    assert lane_of(window[0], 4) == lane_of(window[3], 4)  # the same Message, the same lane


async def test_a_window_the_marks_cover_whole_moves_the_cursor_without_a_post(
    db: Database, receiver_server: HTTPServer
) -> None:
    receiver = Receiver(lambda batch: (200, 0.0))
    receiver_server.expect_request("/hook").respond_with_handler(receiver)
    account = await make_account(db)
    sink_id = await make_sink(db, account, receiver_server.url_for("/hook"))
    await write_backlog(db, account)

    async def delivered_elsewhere(conn: Conn) -> PendingEvent | None:
        """Marks that cover every event, the cursor left behind (as a filter that changed
        under a stored round could leave it)."""
        sink = await sinks.sink_by_id(conn, sink_id)
        assert sink is not None
        backlog = await sinks.pending_events(conn, sink, ["com.twilio.comms-api.*"], 10_000)
        if len(backlog) < MESSAGES * len(STATUSES):
            return None
        progress = LaneProgress(POLICY.lanes)
        progress.passed(backlog)
        cursor = (sink.cursor_txid, sink.cursor_seq)
        await sinks.save_progress(
            conn, sink_id, cursor=cursor, lanes=progress.encode(cursor), now=now_ms(),
            healthy=False,
        )  # fmt: skip
        return backlog[-1]

    last = None
    for _ in range(600):  # PostgreSQL shows the events once older transactions ended
        last = await db.write(delivered_elsewhere)
        if last is not None:
            break
        await asyncio.sleep(0.05)
    delivery = EventDelivery(db, SEALER, LOOPBACK, POLICY)
    try:
        moved = [await delivery.deliver_once(sink_id) for _ in range(POLICY.lanes * 2)]
    finally:
        await delivery.close()
    sink = await db.read(lambda conn: sinks.sink_by_id(conn, sink_id))

    assert receiver.accepted == [] and receiver.refused == 0
    assert last is not None and sink is not None
    assert (sink.cursor_txid, sink.cursor_seq) == (last.txid, last.seq)
    assert moved[-1] is False  # nothing left: the worker rests
