"""What fan-out stores is what dispatch reads back, field by field, on both engines: the
store maps every row to its struct by column name (a column out of place fails here)."""

from __future__ import annotations

from opencomms.domain.attempt_state import AttemptState
from opencomms.domain.candidates import Candidate
from opencomms.domain.message_state import MessageState
from opencomms.domain.new_messages import FanoutChunk, NewMessage, Unaddressable
from opencomms.domain.parts import EarlyReceipt, Part
from opencomms.domain.recipients import Recipient, RecipientAddress
from opencomms.store import dispatch_state, new_messages, operations, parts
from opencomms.store.database import Conn, Database
from opencomms.store.new_messages import FanoutWork

RECIPIENTS = (
    b'[{"addresses":[["+14155550100","PHONE"]],"variables":{"name":"Ada"}},'
    b'{"addresses":[["nobody@example.com","EMAIL"]]}]'
)
CANDIDATES = [
    Candidate(address="+14155550100", channel="PHONE", sender_id="SN1"),
    Candidate(address="+14155550100", channel="PHONE", sender_id="SN2"),
]
MESSAGE = NewMessage(
    id="MM1",
    account_sid="AC1",
    operation_id="OP1",
    recipient_index=0,
    status="QUEUED",
    recipient=[{"address": "+14155550100", "channel": "PHONE"}],
    candidates=CANDIDATES,
    content={"text": "Hello Ada"},
    tags={"campaign": "spring"},
    settled=False,
    due_at=1_000,
    scheduled_for=None,
    encoding="GSM-7",
    segments=1,
    error_code=None,
    error_message=None,
    created_at=500,
)
ATTEMPT = AttemptState(
    id="SM1",
    message_id="MM1",
    operation_id="OP1",
    account_sid="AC1",
    number=1,
    sender_id="SN1",
    connector="lab",
    channel="SMS",
    from_address="+12065550100",
    to_address="+14155550100",
    to_channel="PHONE",
    status="QUEUED",
    in_flight=True,
    submitted_at=None,
    provider_message_id="P1",
    error_code=None,
    error_message=None,
    attempted_at=700,
    updated_at=800,
)


async def fanned_out(conn: Conn, message: NewMessage = MESSAGE) -> FanoutWork:
    """`message`'s operation (OP1 by default) with two recipients: `message` (MM1 by
    default) for the first, the second unaddressable."""
    operation_id = message.operation_id
    await operations.insert_operation(
        conn, operation_id=operation_id, account_sid="AC1", status="PROCESSING", spec={},
        recipients=RECIPIENTS, recipient_count=2, send_at=None, now=0,
    )  # fmt: skip
    work = await new_messages.load_work(conn, operation_id)
    assert work is not None
    nobody = Unaddressable(1, work.recipients[1], 30005, "No sender can reach it.")
    chunk = FanoutChunk(0, 2, [message], [nobody])
    assert await new_messages.insert_chunk(conn, work, chunk, now=600)
    return work


async def test_the_recipients_of_an_operation_are_read_as_accepted(db: Database) -> None:
    work = await db.write(fanned_out)

    assert work.recipients == [
        Recipient([RecipientAddress("+14155550100", "PHONE")], {"name": "Ada"}),
        Recipient([RecipientAddress("nobody@example.com", "EMAIL")]),
    ]


async def test_a_new_message_is_claimed_with_what_fan_out_stored(db: Database) -> None:
    await db.write(fanned_out)

    due = await db.write(lambda conn: dispatch_state.select_due(conn, now=1_000, limit=10))

    assert len(due) == 1
    assert due[0].state == MessageState(
        id="MM1", operation_id="OP1", status="QUEUED", settled=False, attempt_count=0,
        next_candidate=0, candidate_count=2, current_attempt_id=None, channel=None,
        sender=None, due_at=1_000, error_code=None, error_message=None,
    )  # fmt: skip
    assert due[0].account_sid == "AC1"
    assert due[0].candidates == CANDIDATES
    assert due[0].content == {"text": "Hello Ada"}
    assert due[0].current is None


async def test_the_stored_columns_keep_their_formats(db: Database) -> None:
    await db.write(fanned_out)

    async def stored(conn: Conn) -> tuple[object, ...]:
        message = await conn.fetchrow(
            "SELECT candidates, recipient, tags, encoding, segments, created_at, updated_at"
            " FROM messages WHERE id = 'MM1'"
        )
        tag = await conn.fetchrow("SELECT key, value FROM message_tags WHERE message_id = 'MM1'")
        nobody = await conn.fetchrow(
            "SELECT recipient_index, recipient, error_code FROM unaddressable"
            " WHERE operation_id = 'OP1'"
        )
        assert message is not None and tag is not None and nobody is not None
        return tuple(message), tuple(tag), tuple(nobody)

    message, tag, nobody = await db.read(stored)

    assert message == (
        '[["+14155550100","PHONE","SN1"],["+14155550100","PHONE","SN2"]]',
        '[{"address":"+14155550100","channel":"PHONE"}]',
        '{"campaign":"spring"}',
        "GSM-7",
        1,
        500,
        500,
    )
    assert tag == ("campaign", "spring")
    assert nobody == (1, '{"addresses":[["nobody@example.com","EMAIL"]]}', 30005)


async def test_an_attempt_is_read_back_with_its_message_and_on_the_next_claim(
    db: Database,
) -> None:
    await db.write(fanned_out)
    claimed = MessageState(
        id="MM1", operation_id="OP1", status="QUEUED", settled=False, attempt_count=1,
        next_candidate=1, candidate_count=2, current_attempt_id="SM1", channel="SMS",
        sender={"address": "+12065550100", "channel": "SMS", "senderId": "SN1"},
        due_at=900, error_code=None, error_message=None,
    )  # fmt: skip

    async def attempt_made(conn: Conn) -> None:
        await dispatch_state.insert_attempts(conn, [ATTEMPT])
        await dispatch_state.save_messages(conn, [claimed], now=900)

    await db.write(attempt_made)
    # these lock the rows they read (PostgreSQL): they run in writing transactions
    by_id = await db.write(lambda conn: dispatch_state.attempts_by_id(conn, ["SM1"]))
    by_provider = await db.write(lambda conn: dispatch_state.attempts_by_provider_id(conn, ["P1"]))
    due = await db.write(lambda conn: dispatch_state.select_due(conn, now=900, limit=10))

    assert [(p.attempt, p.message) for p in by_id] == [(ATTEMPT, claimed)]
    assert by_provider == by_id
    assert [(d.state, d.current) for d in due] == [(claimed, ATTEMPT)]


async def test_parts_and_early_receipts_are_read_back_as_written(db: Database) -> None:
    sent = [Part("P1", "SM1", 1, "SENT"), Part("P2", "SM1", 2, "SENT")]
    early = [
        EarlyReceipt("P9", "DELIVERED", None, None, 10),
        EarlyReceipt("P9", "UNDELIVERED", 30003, "Unreachable.", 11),
    ]

    async def write(conn: Conn) -> None:
        await parts.insert_parts(conn, sent)
        await parts.hold_early_receipts(conn, early)

    await db.write(write)
    found = await db.read(lambda conn: parts.parts_of_attempts_with(conn, ["P2"]))
    taken = await db.write(lambda conn: parts.take_early_receipts(conn, ["P9"]))

    assert found == sent
    assert taken == early  # in the order they came
