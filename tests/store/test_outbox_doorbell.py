"""The outbox's doorbell rings once events are committed, and only then (both engines)."""

from __future__ import annotations

import pytest

from opencomms.domain.clock import now_ms
from opencomms.store import events
from opencomms.store.database import Conn, Database
from opencomms.store.events import EventRow
from opencomms.store.outbox_doorbell import OutboxDoorbell
from tests.store.test_subscribed_types import a_subscribed_account


class Rings:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def processing(account: str, operation: str) -> list[EventRow]:
    return [events.operation_event(account, operation, "processing", now_ms())]


async def test_a_commit_with_events_rings(db: Database) -> None:
    sink = await a_subscribed_account(db)
    rings = Rings()
    doorbell = OutboxDoorbell(db, rings)

    await doorbell.write(
        lambda conn: events.insert_events(conn, processing(sink.account_sid, "OP1"))
    )

    assert rings.count == 1
    count = await doorbell.read(lambda conn: conn.fetchrow("SELECT COUNT(*) FROM events"))
    assert count is not None and count[0] == 1


async def test_writes_without_events_do_not_ring(db: Database) -> None:
    rings = Rings()
    doorbell = OutboxDoorbell(db, rings)
    unsubscribed = "AC" + "0" * 32  # no sink wants its events: none is written

    await doorbell.write(lambda conn: events.insert_events(conn, processing(unsubscribed, "OP1")))
    await doorbell.write(lambda conn: conn.execute("DELETE FROM events WHERE seq < 0"))

    assert rings.count == 0


async def test_a_transaction_that_fails_does_not_ring(db: Database) -> None:
    sink = await a_subscribed_account(db)
    rings = Rings()
    doorbell = OutboxDoorbell(db, rings)

    async def written_then_failed(conn: Conn) -> None:
        await events.insert_events(conn, processing(sink.account_sid, "OP1"))
        raise RuntimeError("the transaction is rolled back")

    with pytest.raises(RuntimeError):
        await doorbell.write(written_then_failed)

    assert rings.count == 0
    count = await db.read(lambda conn: conn.fetchrow("SELECT COUNT(*) FROM events"))
    assert count is not None and count[0] == 0
