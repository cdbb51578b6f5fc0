"""Which events a subscription selects: the store's SQL rule (`sinks.pending_events`), on
both engines. A pattern is an exact type, or a prefix ending in `*`; a `*` anywhere else
is literal (the API refuses such patterns, events/cloudevents.validate_type_pattern)."""

from __future__ import annotations

import asyncio

from opencomms.domain.clock import now_ms
from opencomms.domain.event_types import (
    EVENT_TYPES,
    MESSAGE_EVENT_TYPES,
    MESSAGE_INBOUND_RECEIVED,
    OPERATION_EVENT_TYPES,
    OperationStep,
)
from opencomms.domain.ids import new_account_sid, new_auth_token, new_sink_id
from opencomms.domain.statuses import MessageStatus
from opencomms.engine.provisioning import provision_account
from opencomms.events.cloudevents import validate_type_pattern
from opencomms.sealing import Sealer
from opencomms.settings import SimulatorSettings
from opencomms.store import events, sinks
from opencomms.store.database import Conn, Database
from opencomms.store.events import EventRow
from opencomms.store.sinks import SinkRecord, SubscriptionRecord

SEALER = Sealer(bytes(range(32)))
P = "com.twilio.comms-api."


def one_event_of_each_type(account: str, now: int) -> list[EventRow]:
    steps: tuple[OperationStep, ...] = ("scheduled", "processing", "completed")
    rows = [events.operation_event(account, "OP1", step, now) for step in steps]
    rows += [
        events.message_event(account, "OP1", "M1", "SM1", status, now)
        for status in MessageStatus
        if status is not MessageStatus.SCHEDULED
    ]
    rows.append(events.inbound_event(account, "IN1", now))
    assert sorted(row.type for row in rows) == sorted(EVENT_TYPES)
    return rows


async def a_subscribed_account(db: Database) -> SinkRecord:
    """A new account with one webhook sink subscribed to every event (so that events of
    the account are written: nothing else would read them)."""
    account, sink_id, now = new_account_sid(), new_sink_id(), now_ms()

    async def create(conn: Conn) -> SinkRecord:
        await provision_account(
            conn, sid=account, auth_token=new_auth_token(), friendly_name="t",
            simulator=SimulatorSettings(), sealer=SEALER, now=now,
        )  # fmt: skip
        txid, seq = await sinks.current_position(conn)
        sink = SinkRecord(
            sink_id, account, "webhook", "https://example.com/hook", "", SEALER.seal("whsec"),
            "ACTIVE", txid, seq, 0, None, now, now, now, None,
        )  # fmt: skip
        await sinks.insert_sink(conn, sink)
        await sinks.insert_subscription(
            conn, SubscriptionRecord("DF" + sink_id[2:], account, sink_id, [P + "*"], now)
        )
        return sink

    return await db.write(create)


async def an_account_with_every_event(db: Database) -> SinkRecord:
    """A subscribed account, and after its sink was made one event of each type, once
    they are readable (on PostgreSQL, once every transaction older than theirs ended,
    on any database of the server)."""
    sink = await a_subscribed_account(db)
    rows = one_event_of_each_type(sink.account_sid, now_ms())
    await db.write(lambda conn: events.insert_events(conn, rows))
    for _ in range(600):
        if await selected(db, sink, ["*"]) == set(EVENT_TYPES):
            return sink
        await asyncio.sleep(0.05)
    raise AssertionError("the events never became readable")


async def selected(db: Database, sink: SinkRecord, patterns: list[str]) -> set[str]:
    pending = await db.read(lambda conn: sinks.pending_events(conn, sink, patterns, 100))
    return {event.type for event in pending}


CASES: list[tuple[list[str], set[str]]] = [
    ([P + "message.queued"], {P + "message.queued"}),
    (
        [P + "message.queued", P + "operation.completed"],
        {P + "message.queued", P + "operation.completed"},
    ),
    ([P + "message.*"], {*MESSAGE_EVENT_TYPES, MESSAGE_INBOUND_RECEIVED}),
    ([P + "operation.*"], set(OPERATION_EVENT_TYPES)),
    ([P + "*"], set(EVENT_TYPES)),
    (["*"], set(EVENT_TYPES)),
    ([P + "message.queued*"], {P + "message.queued"}),
    ([P + "message.*", P + "message.sent"], {*MESSAGE_EVENT_TYPES, MESSAGE_INBOUND_RECEIVED}),
    ([P + "message."], set()),  # no star: an exact type, and no type is this
    ([P + "*.queued"], set()),  # a star inside is literal
    ([P + "message.queued.extra"], set()),
    ([], set()),
]


async def test_a_subscription_selects_its_types(db: Database) -> None:
    sink = await an_account_with_every_event(db)
    for patterns, expected in CASES:
        assert await selected(db, sink, patterns) == expected, patterns


async def test_every_pattern_the_api_accepts_selects_an_event(db: Database) -> None:
    """The API refuses a pattern that matches no known type; each it accepts selects one."""
    sink = await an_account_with_every_event(db)
    for pattern in [*EVENT_TYPES, P + "message.*", P + "operation.p*", "com.twilio.*", "*"]:
        assert validate_type_pattern(pattern) is None, pattern
        assert await selected(db, sink, [pattern]), pattern
