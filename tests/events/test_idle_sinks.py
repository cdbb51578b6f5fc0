"""Idle sinks cost nothing: the delivery worker reads the outbox once per round, whatever
the number of sinks, and reads a sink only when its account has new events (or it is due
to retry, or replaying). A real database on both engines, a real receiver; the database
is wrapped only to record the statements the worker sends it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pytest_httpserver import HTTPServer

from opencomms.domain.clock import now_ms
from opencomms.domain.ids import new_account_sid, new_auth_token, new_sink_id
from opencomms.engine.provisioning import provision_account
from opencomms.events.signing import new_webhook_secret
from opencomms.events.sink_delivery import EventDelivery
from opencomms.events.ssrf import CallbackPolicy
from opencomms.sealing import Sealer
from opencomms.settings import SimulatorSettings
from opencomms.store import events, sinks
from opencomms.store.database import Column, Conn, Database, Dialect, Intent, Row
from opencomms.store.events import operation_event
from opencomms.store.open import open_database
from opencomms.store.sinks import SinkRecord, SubscriptionRecord
from tests.events.helpers import ALL_TYPES
from tests.support.databases import database_url

T = TypeVar("T")
SEALER = Sealer(bytes(range(32)))
IDLE_SINKS = 20


class RecordingConn:
    """A real connection that also notes every statement and its arguments."""

    def __init__(self, conn: Conn, log: list[tuple[str, tuple[Any, ...]]]) -> None:
        self.dialect: Dialect = conn.dialect
        self._conn, self._log = conn, log

    async def execute(self, sql: str, *args: Any) -> int:
        self._log.append((sql, args))
        return await self._conn.execute(sql, *args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._log.append((sql, ()))
        await self._conn.executemany(sql, rows)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        self._log.append((sql, args))
        return await self._conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        self._log.append((sql, args))
        return await self._conn.fetchrow(sql, *args)

    async def insert_many(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        self._log.append((f"insert_many {table}", ()))
        await self._conn.insert_many(table, columns, rows)

    async def update_many(
        self, table: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]]
    ) -> None:
        self._log.append((f"update_many {table}", ()))
        await self._conn.update_many(table, columns, rows)


class RecordingDatabase:
    """The real database; every statement sent through it is noted."""

    def __init__(self, db: Database) -> None:
        self.dialect = db.dialect
        self._db = db
        self.statements: list[tuple[str, tuple[Any, ...]]] = []

    async def write(self, intent: Intent[T]) -> T:
        return await self._db.write(lambda conn: intent(RecordingConn(conn, self.statements)))

    async def read(self, query: Intent[T]) -> T:
        return await self._db.read(lambda conn: query(RecordingConn(conn, self.statements)))

    async def close(self) -> None:
        await self._db.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, str(tmp_path)) as url:
        yield url


@pytest.fixture
async def db(url: str) -> AsyncIterator[Database]:
    database = await open_database(url, sealer=SEALER)
    yield database
    await database.close()


async def make_account(db: Database) -> str:
    sid = new_account_sid()
    await db.write(
        lambda conn: provision_account(
            conn, sid=sid, auth_token=new_auth_token(), friendly_name="t",
            simulator=SimulatorSettings(), sealer=SEALER, now=now_ms(),
        )
    )  # fmt: skip
    return sid


async def make_sink(db: Database, account: str, url: str) -> str:
    """A sink subscribed to every event, made in the store (no API call wakes it)."""
    sink_id = new_sink_id()

    async def create(conn: Conn) -> None:
        now = now_ms()
        txid, seq = await sinks.current_position(conn)
        await sinks.insert_sink(
            conn,
            SinkRecord(
                sink_id, account, "webhook", url, "", SEALER.seal(new_webhook_secret()),
                "ACTIVE", txid, seq, 0, None, now, now, now, None,
            ),
        )  # fmt: skip
        await sinks.insert_subscription(
            conn, SubscriptionRecord("DF" + sink_id[2:], account, sink_id, ALL_TYPES, now)
        )

    await db.write(create)
    return sink_id


IDLE_S = 1.0  # a few of the worker's rounds (every 0.2 s when nothing happens)
SETTLE_S = 30.0


async def settled(recording: RecordingDatabase, sink_ids: set[str]) -> None:
    """Wait for a whole idle period in which no sink is read: at start-up the worker looks
    at every sink once."""
    for _ in range(int(SETTLE_S / IDLE_S)):
        recording.statements.clear()
        await asyncio.sleep(IDLE_S)
        if not named(recording.statements, sink_ids):
            return
    raise AssertionError(f"idle sinks were still read after {SETTLE_S} s")


def named(statements: list[tuple[str, tuple[Any, ...]]], ids: set[str]) -> set[str]:
    return {arg for _, args in statements for arg in args if arg in ids}


async def test_idle_sinks_are_not_read_and_news_wakes_only_its_accounts_sinks(
    db: Database, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    busy, idle = await make_account(db), await make_account(db)
    idle_sinks = {
        await make_sink(db, idle, httpserver.url_for(f"/idle{n}")) for n in range(IDLE_SINKS)
    }
    busy_sink = await make_sink(db, busy, httpserver.url_for("/hook"))
    recording = RecordingDatabase(db)
    delivery = EventDelivery(recording, SEALER, CallbackPolicy.from_cidrs(["127.0.0.0/8"]))
    worker = asyncio.create_task(delivery.run())
    try:
        await settled(recording, idle_sinks | {busy_sink})
        recording.statements.clear()
        await asyncio.sleep(IDLE_S)
        while_idle = list(recording.statements)
        news = [operation_event(busy, "OP" + "0" * 32, "processing", now_ms())]
        await db.write(lambda conn: events.insert_events(conn, news))
        for _ in range(600):
            if httpserver.log:
                break
            await asyncio.sleep(0.05)
        after_news = list(recording.statements)
    finally:
        worker.cancel()
        await delivery.close()

    assert while_idle, "the worker was not looking"
    assert named(while_idle, idle_sinks | {busy_sink}) == set()
    assert not any("subscriptions" in sql for sql, _ in while_idle)
    assert [request.path for request, _ in httpserver.log] == ["/hook"]
    assert named(after_news, idle_sinks | {busy_sink}) == {busy_sink}


async def test_a_sink_hears_of_events_written_after_the_outbox_was_emptied(
    db: Database, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    account = await make_account(db)
    await make_sink(db, account, httpserver.url_for("/hook"))
    delivery = EventDelivery(db, SEALER, CallbackPolicy.from_cidrs(["127.0.0.0/8"]))
    worker = asyncio.create_task(delivery.run())

    async def event_delivered(operation: str) -> None:
        news = [operation_event(account, operation, "processing", now_ms())]
        await db.write(lambda conn: events.insert_events(conn, news))
        for _ in range(600):
            if any(operation.encode() in request.get_data() for request, _ in httpserver.log):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"the event of {operation} was not delivered")

    try:
        for n in range(3):
            await event_delivered(f"OP{n:032d}")
        await db.write(lambda conn: conn.execute("DELETE FROM events"))  # all pruned

        await event_delivered("OP" + "9" * 32)
    finally:
        worker.cancel()
        await delivery.close()
