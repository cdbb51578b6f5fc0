"""Inbound messages: stored for the account owning the address written to, keywords move
its opt-outs; an operator's address shared by every account answers to the account that
sent last to the writer from it, or to none."""

from __future__ import annotations

import pytest

from opencomms.connectors.base import Inbound
from opencomms.domain.ids import (
    new_account_sid,
    new_attempt_id,
    new_sender_id,
    new_sink_id,
    new_subscription_id,
)
from opencomms.domain.keywords import Keyword, keyword_of
from opencomms.engine.inbound import apply_inbound
from opencomms.store import opt_outs, sender_addresses, senders, sinks
from opencomms.store.database import Conn, Database
from opencomms.store.records import SenderRecord
from opencomms.store.senders import Registration
from opencomms.store.sinks import SinkRecord, SubscriptionRecord

SENDER = "+12065550100"
WRITER = "+14155550123"


def sender_record(account: str, address: str, channel: str, connector: str) -> SenderRecord:
    return SenderRecord(
        new_sender_id(), account, address, channel, connector, "ACTIVATED", {}, 0, 0, 1, 1
    )


async def subscribed(db: Database, account: str) -> None:
    """Give the account a sink subscribed to every event: events are written for it."""
    sink = SinkRecord(
        new_sink_id(), account, "webhook", "https://example.com/hook", "", "whsec_x",
        "ACTIVE", 0, 0, 0, None, 1, 1, 1, None,
    )  # fmt: skip
    subscription = SubscriptionRecord(new_subscription_id(), account, sink.id, ["com.*"], 1)
    await db.write(lambda conn: sinks.insert_sink(conn, sink))
    await db.write(lambda conn: sinks.insert_subscription(conn, subscription))


async def register(
    db: Database,
    address: str = SENDER,
    channel: str = "SMS",
    connector: str = "operator_a",
    account: str | None = None,
) -> tuple[str, Registration]:
    """A sender registered as through the API: (its account, what registering did)."""
    record = sender_record(account or new_account_sid(), address, channel, connector)
    registered = await db.write(lambda conn: senders.register_sender(conn, record))
    await subscribed(db, record.account_sid)
    return record.account_sid, registered


async def owned_sender(db: Database, connector: str = "operator_a") -> str:
    account, registered = await register(db, connector=connector)
    assert registered is Registration.CREATED
    return account


async def operator_sender(db: Database, account: str, connector: str = "operator_a") -> str:
    """The operator's sender at SENDER, provisioned into `account`; its id."""
    record = sender_record(account, SENDER, "SMS", connector)

    async def provision(conn: Conn) -> None:
        await sender_addresses.claim_for_operator(conn, connector, "tel:12065550100")
        await senders.insert_sender(conn, record)

    await db.write(provision)
    await subscribed(db, account)
    return record.id


async def sent_before(db: Database, account: str, sender_id: str, to: str, at: int) -> None:
    """An attempt the account made from the sender to `to` at `at`."""
    await db.write(
        lambda conn: conn.execute(
            "INSERT INTO attempts (id, message_id, operation_id, account_sid, number,"
            " sender_id, connector, channel, from_address, to_address, to_channel, status,"
            " in_flight, attempted_at, updated_at)"
            " VALUES (?, 'MM1', 'OP1', ?, 1, ?, 'operator_a', 'SMS', ?, ?, 'PHONE', 'SENT', 0,"
            " ?, ?)",
            new_attempt_id(),
            account,
            sender_id,
            SENDER,
            to,
            at,
            at,
        )
    )


def reply(text: str, connector: str = "operator_a", to: str = SENDER, **fields: str) -> Inbound:
    return Inbound(connector, fields.get("channel", "SMS"), fields.get("writer", WRITER), to, text)


async def opted_out(db: Database, account: str, address: str = WRITER) -> bool:
    return await db.read(lambda conn: opt_outs.get_opt_out(conn, account, address)) is not None


async def stored(db: Database) -> list[tuple[object, ...]]:
    rows = await db.read(
        lambda conn: conn.fetch("SELECT account_sid, from_address, text FROM inbound_messages")
    )
    return sorted((tuple(row) for row in rows), key=repr)


async def event_accounts(db: Database) -> list[str]:
    rows = await db.read(lambda conn: conn.fetch("SELECT account_sid FROM events"))
    return [row[0] for row in rows]


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
    assert not await opted_out(db, account)


async def test_every_inbound_message_is_kept_with_its_event(db: Database) -> None:
    account = await owned_sender(db)

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

    assert not await opted_out(db, account)
    assert await stored(db) == []


@pytest.mark.parametrize(
    ("channel", "owned", "spelt"),
    [
        ("SMS", "+12065550100", "+1 (206) 555-0100"),
        ("SMS", "+12065550100", "12065550100"),  # an SMSC that drops the '+'
        ("WHATSAPP", "+12065550100", "whatsapp:+12065550100"),
        ("SMS", "12345", "+12345"),  # a short code: one destination to an SMSC
        ("EMAIL", "team@example.com", "Team@EXAMPLE.com"),
        ("RCS", "acme_agent@rbm.goog", "ACME_Agent@rbm.goog"),
        ("SMS", "ACME Bank", "acme  bank"),
    ],
)
async def test_an_address_is_one_accounts_however_it_is_spelt(
    db: Database, channel: str, owned: str, spelt: str
) -> None:
    owner, first = await register(db, owned, channel)
    intruder, second = await register(db, spelt, channel)
    _, same_account = await register(db, spelt, channel, account=owner)
    _, elsewhere = await register(db, spelt, channel, connector="operator_b")

    writer = "someone@example.net" if channel == "EMAIL" else WRITER
    message = reply("STOP", to=spelt, channel=channel, writer=writer)
    await db.write(lambda conn: apply_inbound(conn, [message]))

    assert (first, second) == (Registration.CREATED, Registration.TAKEN)
    assert (same_account, elsewhere) == (Registration.CREATED, Registration.CREATED)
    assert [row[0] for row in await stored(db)] == [owner]
    assert await event_accounts(db) == [owner]
    assert await opted_out(db, owner, writer) and not await opted_out(db, intruder, writer)


async def test_an_address_freed_by_its_owner_can_be_registered_by_another(db: Database) -> None:
    owner = await owned_sender(db)
    (sender,) = await db.read(lambda conn: senders.list_senders(conn, owner, after=None, limit=5))

    await db.write(lambda conn: senders.delete_sender(conn, owner, sender.id))
    newcomer, registered = await register(db)
    await db.write(lambda conn: apply_inbound(conn, [reply("STOP")]))

    assert registered is Registration.CREATED
    assert await opted_out(db, newcomer) and not await opted_out(db, owner)


async def test_an_operators_address_answers_to_the_account_that_sent_last_to_the_writer(
    db: Database,
) -> None:
    first, last, other = new_account_sid(), new_account_sid(), new_account_sid()
    first_sender = await operator_sender(db, first)
    last_sender = await operator_sender(db, last)
    other_sender = await operator_sender(db, other)
    await sent_before(db, first, first_sender, WRITER, at=1_000)
    await sent_before(db, last, last_sender, WRITER, at=2_000)
    await sent_before(db, other, other_sender, "+14155550999", at=3_000)  # someone else

    await db.write(lambda conn: apply_inbound(conn, [reply("STOP")]))

    assert [row[0] for row in await stored(db)] == [last]
    assert await event_accounts(db) == [last]
    assert [await opted_out(db, a) for a in (first, last, other)] == [False, True, False]


async def test_the_writer_is_matched_however_the_carrier_spells_them(db: Database) -> None:
    account = new_account_sid()
    await sent_before(db, account, await operator_sender(db, account), WRITER, at=1_000)

    message = reply("STOP", channel="WHATSAPP", writer="whatsapp:" + WRITER)
    await db.write(lambda conn: apply_inbound(conn, [message]))

    assert await stored(db) == [(account, WRITER, "STOP")]
    assert await opted_out(db, account)


async def test_an_operators_address_no_account_sent_from_keeps_the_message_for_no_one(
    db: Database,
) -> None:
    accounts = [new_account_sid(), new_account_sid()]
    for account in accounts:
        await operator_sender(db, account)

    await db.write(lambda conn: apply_inbound(conn, [reply("STOP, and here is my secret")]))
    await db.write(lambda conn: apply_inbound(conn, [reply("STOP")]))

    assert await stored(db) == [
        (None, WRITER, "STOP"),
        (None, WRITER, "STOP, and here is my secret"),
    ]
    assert await event_accounts(db) == []
    assert not any([await opted_out(db, account) for account in accounts])


async def test_a_message_reported_again_by_its_provider_is_stored_and_announced_once(
    db: Database,
) -> None:
    """A webhook retried after a lost answer, or after a restart, names the same provider
    id: the second report is dropped, within one batch and across batches."""
    account = await owned_sender(db)
    first = Inbound("operator_a", "SMS", WRITER, SENDER, "Hello", provider_message_id="p-1")
    other = Inbound("operator_a", "SMS", WRITER, SENDER, "Again", provider_message_id="p-2")
    await db.write(lambda conn: apply_inbound(conn, [first, first]))
    await db.write(lambda conn: apply_inbound(conn, [first, other]))

    assert await stored(db) == [(account, WRITER, "Again"), (account, WRITER, "Hello")]
    assert await event_accounts(db) == [account, account]


async def test_the_same_provider_id_on_another_connector_is_another_message(db: Database) -> None:
    account = await owned_sender(db)
    await register(db, connector="operator_b", account=account)
    on_a = Inbound("operator_a", "SMS", WRITER, SENDER, "A", provider_message_id="p-1")
    on_b = Inbound("operator_b", "SMS", WRITER, SENDER, "B", provider_message_id="p-1")
    await db.write(lambda conn: apply_inbound(conn, [on_a, on_b]))

    assert [text for *_, text in await stored(db)] == ["A", "B"]
