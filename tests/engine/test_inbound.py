"""Inbound messages: stored for the accounts owning the sender, keywords move opt-outs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from opencomms.connectors.base import Inbound
from opencomms.domain.ids import (
    new_account_sid,
    new_sender_id,
    new_sink_id,
    new_subscription_id,
)
from opencomms.domain.keywords import Keyword, keyword_of
from opencomms.engine.inbound import apply_inbound
from opencomms.store import opt_outs, senders, sinks
from opencomms.store.database import Database
from opencomms.store.open import open_database
from opencomms.store.records import SenderRecord
from opencomms.store.sinks import SinkRecord, SubscriptionRecord

SENDER = "+12065550100"
WRITER = "+14155550123"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(f"sqlite:///{tmp_path / 'inbound.db'}")
    yield database
    await database.close()


async def owned_sender(db: Database, connector: str = "operator_a") -> str:
    account = new_account_sid()
    record = SenderRecord(
        new_sender_id(), account, SENDER, "SMS", connector, "ACTIVATED", {}, 0, 0, 1, 1
    )
    await db.write(lambda conn: senders.insert_sender(conn, record))
    return account


def reply(text: str, connector: str = "operator_a") -> Inbound:
    return Inbound(connector, "SMS", WRITER, SENDER, text)


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("STOP", Keyword.STOP),
        (" stop. ", Keyword.STOP),
        ("Unsubscribe", Keyword.STOP),
        ("START", Keyword.START),
        ("yes!", Keyword.START),
        ("please stop texting me", None),
        ("stopped", None),
        ("", None),
    ],
)
def test_only_a_keyword_alone_is_a_keyword(text: str, keyword: Keyword | None) -> None:
    assert keyword_of(text) is keyword


async def test_stop_opts_the_writer_out_and_start_opts_them_back_in(db: Database) -> None:
    account = await owned_sender(db)

    await db.write(lambda conn: apply_inbound(conn, [reply("Stop")]))
    entry = await db.read(lambda conn: opt_outs.get_opt_out(conn, account, WRITER))
    assert entry is not None and (entry.source, entry.channel) == ("KEYWORD", None)

    await db.write(lambda conn: apply_inbound(conn, [reply("START")]))
    assert await db.read(lambda conn: opt_outs.get_opt_out(conn, account, WRITER)) is None


async def subscribed(db: Database, account: str) -> None:
    """Give the account a sink subscribed to every event: events are written for it."""
    sink = SinkRecord(
        new_sink_id(), account, "webhook", "https://example.com/hook", "", "whsec_x",
        "ACTIVE", 0, 0, 0, None, 1, 1, 1,
    )  # fmt: skip
    subscription = SubscriptionRecord(new_subscription_id(), account, sink.id, ["com.*"], 1)
    await db.write(lambda conn: sinks.insert_sink(conn, sink))
    await db.write(lambda conn: sinks.insert_subscription(conn, subscription))


async def test_every_inbound_message_is_kept_with_its_event(db: Database) -> None:
    account = await owned_sender(db)
    await subscribed(db, account)

    await db.write(lambda conn: apply_inbound(conn, [reply("what time?"), reply("STOP")]))

    rows = await db.read(
        lambda conn: conn.fetch(
            "SELECT account_sid, text, keyword FROM inbound_messages ORDER BY received_at, text"
        )
    )
    assert sorted(tuple(row) for row in rows) == [(account, "STOP", "STOP"),
                                                  (account, "what time?", None)]  # fmt: skip
    events = await db.read(lambda conn: conn.fetch("SELECT account_sid, type, status FROM events"))
    assert [tuple(e) for e in events] == [
        (account, "com.twilio.comms-api.message.inbound-received", "RECEIVED")
    ] * 2


async def test_a_message_to_a_sender_of_another_connector_opts_no_one_out(db: Database) -> None:
    account = await owned_sender(db, connector="operator_a")

    await db.write(lambda conn: apply_inbound(conn, [reply("STOP", connector="operator_b")]))

    assert await db.read(lambda conn: opt_outs.get_opt_out(conn, account, WRITER)) is None
    stored = await db.read(lambda conn: conn.fetch("SELECT id FROM inbound_messages"))
    assert stored == []
