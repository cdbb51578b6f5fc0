"""Receipts move only the attempts made through the connector they came from."""

from __future__ import annotations

import asyncio

from opencomms.connectors.base import Receipt
from opencomms.domain.attempt_state import AttemptState
from opencomms.engine.provider_ids import keyed_receipts
from opencomms.engine.receipts import apply_receipts
from opencomms.store import dispatch_state, operations
from opencomms.store.database import Conn, Database

MESSAGE = (
    "INSERT INTO messages (id, account_sid, operation_id, recipient_index, status, recipient,"
    " candidates, candidate_count, content, tags, channel, attempt_count, next_candidate,"
    " current_attempt_id, settled, created_at, updated_at)"
    " VALUES ('MM1', 'AC1', 'OP1', 0, 'SENT', '{}', '[]', 1, '{}', '{}', 'SMS', 1, 1, 'SM1', 0,"
    " 0, 0)"
)


async def sent_through_lab(conn: Conn) -> None:
    """One Message, SENT by attempt SM1 through the connector `lab`."""
    await operations.insert_operation(
        conn, operation_id="OP1", account_sid="AC1", status="PROCESSING", spec={},
        recipients=b"[]", recipient_count=1, send_at=None, now=0,
    )  # fmt: skip
    await conn.execute("UPDATE operations SET total = 1, sent = 1, attempts = 1 WHERE id = 'OP1'")
    await conn.execute(MESSAGE)
    attempt = AttemptState(
        "SM1", "MM1", "OP1", "AC1", 1, "SN1", "lab", "SMS", "+12065550100", "+14155550100",
        "PHONE", "SENT", False, 0, None, None, None, 0, 0,
    )  # fmt: skip
    await dispatch_state.insert_attempts(conn, [attempt])


async def attempt_status(db: Database) -> str:
    row = await db.read(lambda conn: conn.fetchrow("SELECT status FROM attempts WHERE id = 'SM1'"))
    assert row is not None
    return str(row[0])


async def receive(db: Database, connector: str, receipt: Receipt) -> None:
    """The receipt as the engine hears it from `connector`."""
    heard: list[Receipt] = []

    def accept(keyed: Receipt) -> asyncio.Future[None]:
        heard.append(keyed)
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        stored.set_result(None)
        return stored

    await keyed_receipts(connector, accept)(receipt)
    await db.write(lambda conn: apply_receipts(conn, heard))


async def test_a_receipt_from_another_connector_does_not_move_the_attempt(db: Database) -> None:
    await db.write(sent_through_lab)

    await receive(db, "operator_b", Receipt("FAILED", "SM1", error_code=30008))
    after_other = await attempt_status(db)
    await receive(db, "lab", Receipt("DELIVERED", "SM1"))

    assert (after_other, await attempt_status(db)) == ("SENT", "DELIVERED")
