"""On PostgreSQL, a delivery worker hears of events another process committed through
NOTIFY, not at its poll: with the poll an hour long, an event written by another
connection pool (another process, as far as PostgreSQL can tell) waits until the writer
notifies, and is delivered once it does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from opencomms.domain.clock import now_ms
from opencomms.events import sink_delivery
from opencomms.events.sink_delivery import EventDelivery
from opencomms.events.ssrf import CallbackPolicy
from opencomms.store import events
from opencomms.store.database import Database
from opencomms.store.events import operation_event
from opencomms.store.open import open_database
from opencomms.store.outbox_doorbell import OutboxDoorbell
from opencomms.store.outbox_notify import OutboxNotifier, listen
from tests.events.test_idle_sinks import SEALER, make_account, make_sink
from tests.support.databases import database_url

AN_HOUR_S = 3600.0
QUIET_S = 3.0  # past the worker's rechecks after a ring (RECHECK_FOR_S)


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    with database_url("postgresql", str(tmp_path)) as url:
        yield url


@pytest.fixture
async def two_pools(pg_url: str) -> AsyncIterator[tuple[Database, Database]]:
    writer = await open_database(pg_url, sealer=SEALER)
    reader = await open_database(pg_url, migrate=False)
    yield writer, reader
    await writer.close()
    await reader.close()


async def delivered(receiver: HTTPServer, operation: str, within_s: float) -> bool:
    for _ in range(int(within_s / 0.05)):
        if any(operation.encode() in request.get_data() for request, _ in receiver.log):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_notification_wakes_the_worker_of_another_process(
    pg_url: str,
    two_pools: tuple[Database, Database],
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sink_delivery, "IDLE_POLL_S", AN_HOUR_S)
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    writer, reader = two_pools
    account = await make_account(writer)
    await make_sink(writer, account, httpserver.url_for("/hook"))
    notifier = OutboxNotifier(writer, "writer")
    notifying = OutboxDoorbell(writer, notifier.poke)
    delivery = EventDelivery(reader, SEALER, CallbackPolicy.from_cidrs(["127.0.0.0/8"]))
    tasks = [
        asyncio.create_task(delivery.run()),
        asyncio.create_task(listen(pg_url, "reader", delivery.ring, 1.0)),
    ]
    try:
        await asyncio.sleep(QUIET_S)  # the worker's first rounds are over: it rests
        unheard = [operation_event(account, "OP" + "1" * 32, "processing", now_ms())]
        await writer.write(lambda conn: events.insert_events(conn, unheard))
        missed = await delivered(httpserver, "OP" + "1" * 32, QUIET_S)

        tasks.append(asyncio.create_task(notifier.run()))
        news = [operation_event(account, "OP" + "2" * 32, "processing", now_ms())]
        await notifying.write(lambda conn: events.insert_events(conn, news))
        heard = await delivered(httpserver, "OP" + "2" * 32, 30.0)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await delivery.close()

    assert not missed  # nothing told the worker: it waits for its (hour-long) poll
    assert heard
    bodies = b"".join(request.get_data() for request, _ in httpserver.log)
    assert b"OP" + b"1" * 32 in bodies  # the unheard event went with the round it woke
