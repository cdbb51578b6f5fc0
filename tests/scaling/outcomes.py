"""What the scale-out tests check once the processes are through: what is left undone,
which events were written, whether every one reached the sink; and killing a process
as a crash would."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from opencomms.events.lanes import ROUND_BATCHES
from opencomms.events.payloads import event_id
from opencomms.events.sink_delivery import DeliveryPolicy
from tests.scaling.processes import lease_holder
from tests.support.event_sink import EventSink
from tests.support.process import ServeProcess

# what a sink may get again when its owner is killed: the batches of the round out at that
# moment and not yet recorded (docs/events.md, "Progress is recorded after every batch")
IN_FLIGHT = DeliveryPolicy().batch_size * DeliveryPolicy().lanes * ROUND_BATCHES


def stuck_work(url: str) -> dict[str, int]:
    """What would be left undone: Messages not settled, attempts in flight, fan-out jobs,
    receipts waiting for their answer."""
    return asyncio.run(_stuck(url))


async def _stuck(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        return {
            name: await conn.fetchval(query)
            for name, query in (
                ("unsettled", "SELECT count(*) FROM messages WHERE settled = 0"),
                ("due", "SELECT count(*) FROM messages WHERE due_at IS NOT NULL"),
                ("in flight", "SELECT count(*) FROM attempts WHERE in_flight = 1"),
                ("jobs", "SELECT count(*) FROM jobs"),
                ("early receipts", "SELECT count(*) FROM early_receipts"),
            )
        }
    finally:
        await conn.close()


def outbox_ids(url: str) -> set[str]:
    """The id of every event written (the outbox): what the sink must get."""

    async def read() -> set[str]:
        conn = await asyncpg.connect(url)
        try:
            return {event_id(row["seq"]) for row in await conn.fetch("SELECT seq FROM events")}
        finally:
            await conn.close()

    return asyncio.run(read())


def kill_and_restart(url: str, victim: ServeProcess, sink_id: str) -> bool:
    """SIGKILL `victim` and start it again; whether it was delivering the sink (then
    its last batch may come again)."""
    delivering = kill(url, victim, sink_id)
    victim.start()
    return delivering


def kill(url: str, victim: ServeProcess, sink_id: str) -> bool:
    """SIGKILL `victim`; whether it was delivering the sink."""
    delivering = lease_holder(url, "sink:" + sink_id) == victim.pid
    victim.kill()
    return delivering


def assert_every_event_arrived(
    sink: EventSink,
    expected: set[str],
    messages: list[dict[str, Any]],
    operation_ids: list[str],
    takeovers: int,
) -> None:
    """Every event written reached the sink, and nothing else did; each Message's events
    tell its story up to its final status, each operation's its processing and
    completion; an event came twice only across a takeover of the sink, at most the
    batches out at that moment. A Message may have the events of two attempts (a fallback
    whose timeout ran out while a process was down), never one change told twice."""
    assert sink.ids() == expected
    kinds = sink.kinds()
    assert len(kinds) == len(messages) + len(operation_ids)
    for message in messages:
        final = message["status"].lower()
        story = {"queued", final} | ({"sent"} if final in ("delivered", "undelivered") else set())
        assert story <= kinds[message["id"]], (message, kinds[message["id"]])
    assert all(kinds[o] == {"processing", "completed"} for o in operation_ids)
    assert sink.repeated_changes() == {}
    assert sink.repeated() <= IN_FLIGHT * takeovers, (sink.repeated(), takeovers)
