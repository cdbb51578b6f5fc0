"""The dispatcher's fair share takes turns between accounts, on both engines: an account's
lone send is among the running operations it shares a claim between, however many
operations another account runs (issue 14: a flood of one account's single sends held
back another account's send for minutes)."""

from __future__ import annotations

from opencomms.store import dispatch_state, operations
from opencomms.store.database import Conn, Database


async def accept(db: Database, account_sid: str, count: int, first: int = 0) -> list[str]:
    ids = [f"OP{n:05}{account_sid}" for n in range(first, first + count)]

    async def insert(conn: Conn) -> None:
        for operation_id in ids:
            await operations.insert_operation(
                conn, operation_id=operation_id, account_sid=account_sid, status="PROCESSING",
                spec={}, recipients=b"[]", recipient_count=1, send_at=None, now=0,
            )  # fmt: skip

    await db.write(insert)
    return ids


async def running(db: Database, limit: int) -> list[str]:
    return await db.read(lambda conn: dispatch_state.running_operations(conn, limit))


async def test_a_lone_send_takes_its_turn_before_a_floods_second_operation(db: Database) -> None:
    flood = await accept(db, "ACA", 500)
    [lone] = await accept(db, "ACB", 1, first=500)  # accepted after the whole flood

    assert await running(db, 32) == [flood[0], lone, *flood[1:31]]


async def test_accounts_take_turns_oldest_first_within_each(db: Database) -> None:
    a = await accept(db, "ACA", 3)
    b = await accept(db, "ACB", 2, first=3)
    c = await accept(db, "ACC", 1, first=5)

    assert await running(db, 32) == [a[0], b[0], c[0], a[1], b[1], a[2]]
    assert await running(db, 4) == [a[0], b[0], c[0], a[1]]


async def test_finished_operations_are_not_running(db: Database) -> None:
    a = await accept(db, "ACA", 2)
    await db.write(lambda conn: operations.set_status(conn, a[0], "COMPLETED", 1))

    assert await running(db, 32) == [a[1]]
    assert await running(db, 0) == []
