"""`Conn.update_many`, the engine's bulk update by id, on both engines: each row gets its
own values, NULL included; rows not named are left alone; no rows changes nothing."""

from __future__ import annotations

from msgspec.structs import replace

from opencomms.store import dispatch_state
from opencomms.store.database import Conn, Database
from tests.engine.test_stored_state import ATTEMPT

COLUMNS = [("status", "text"), ("provider_message_id", "text"), ("error_code", "int")]


async def three_attempts(conn: Conn) -> None:
    ids = ("SM1", "SM2", "SM3")
    await dispatch_state.insert_attempts(conn, [replace(ATTEMPT, id=i) for i in ids])


async def stored(db: Database) -> list[tuple[object, ...]]:
    rows = await db.read(
        lambda conn: conn.fetch(
            "SELECT id, status, provider_message_id, error_code FROM attempts ORDER BY id"
        )
    )
    return [tuple(row) for row in rows]


async def test_each_row_gets_its_own_values_and_the_rest_are_left_alone(db: Database) -> None:
    await db.write(three_attempts)

    rows = [("FAILED", None, 30008, "SM3"), ("SENT", "P-9", None, "SM1")]
    await db.write(lambda conn: conn.update_many("attempts", COLUMNS, rows))

    assert await stored(db) == [
        ("SM1", "SENT", "P-9", None),
        ("SM2", "QUEUED", "P1", None),
        ("SM3", "FAILED", None, 30008),
    ]


async def test_no_rows_change_nothing(db: Database) -> None:
    await db.write(three_attempts)
    before = await stored(db)

    await db.write(lambda conn: conn.update_many("attempts", COLUMNS, []))

    assert await stored(db) == before
