"""An operation's errors by code, on both engines: what is counted, and that the count is
a GROUP BY on the partial index of failures (not a scan of the operation's Messages)."""

from __future__ import annotations

from typing import Any

from opencomms.domain.ids import new_message_id, new_operation_id
from opencomms.store.database import Conn, Database
from opencomms.store.new_messages import MESSAGE_COLUMNS
from opencomms.store.operation_errors import error_counts, error_samples
from opencomms.store.schema import FAILED_WITH_CODE

ACCOUNT = "AC" + "0" * 32


def _row(operation_id: str, index: int, status: str, code: int | None) -> tuple[Any, ...]:
    values: dict[str, Any] = {column: None for column in MESSAGE_COLUMNS}
    values.update(
        id=new_message_id(),
        account_sid=ACCOUNT,
        operation_id=operation_id,
        recipient_index=index,
        status=status,
        recipient=f'[{{"address": "+1415555{index:04d}", "channel": "PHONE"}}]',
        candidates="[]",
        candidate_count=0,
        content="{}",
        tags="{}",
        settled=1,
        attempt_count=1,
        next_candidate=1,
        error_code=code,
        error_message=None if code is None else f"error {code}",
        created_at=1,
        updated_at=1,
    )
    return tuple(values[column] for column in MESSAGE_COLUMNS)


async def _fill(conn: Conn, operation_id: str, other_id: str) -> None:
    rows = [_row(operation_id, n, "DELIVERED", None) for n in range(2000)]
    rows += [_row(operation_id, 2000 + n, "FAILED", 30003) for n in range(40)]
    rows += [_row(operation_id, 3000 + n, "UNDELIVERED", 30005) for n in range(5)]
    # failed on RCS, then delivered by SMS: its last error is kept, but it is no failure
    rows += [_row(operation_id, 4000 + n, "DELIVERED", 61337) for n in range(7)]
    rows += [_row(other_id, n, "FAILED", 30003) for n in range(9)]
    await conn.insert_many("messages", MESSAGE_COLUMNS, rows)
    await conn.insert_many(
        "unaddressable",
        ("operation_id", "recipient_index", "recipient", "error_code", "error_message"),
        [
            (operation_id, 5000 + n, '{"addresses": [["a@b.c", "EMAIL"]]}', 21211, "nope")
            for n in range(3)
        ],
    )


async def test_errors_are_counted_by_code_failures_only(db: Database) -> None:
    operation_id, other_id = new_operation_id(), new_operation_id()
    await db.write(lambda conn: _fill(conn, operation_id, other_id))

    counts = await db.read(lambda conn: error_counts(conn, operation_id, None, 10))
    after = await db.read(lambda conn: error_counts(conn, operation_id, 21211, 1))
    samples = await db.read(lambda conn: error_samples(conn, operation_id, 30003, 3))
    unaddressable = await db.read(lambda conn: error_samples(conn, operation_id, 21211, 3))

    assert counts == [(21211, 3), (30003, 40), (30005, 5)]
    assert after == [(30003, 40)]
    assert len(samples) == 3 and all(s.message_id and s.error_message for s in samples)
    assert [s.recipient_index for s in unaddressable] == [5000, 5001, 5002]
    assert all(s.message_id is None for s in unaddressable)


async def _plan(conn: Conn, operation_id: str) -> str:
    query = (
        "SELECT error_code, COUNT(*) FROM messages"
        f" WHERE operation_id = ? AND {FAILED_WITH_CODE} GROUP BY error_code"
    )
    if conn.dialect == "postgresql":
        await conn.execute("SET LOCAL enable_seqscan = off")  # the table is small here
        rows = await conn.fetch("EXPLAIN " + query, operation_id)
        return "\n".join(str(row[0]) for row in rows)
    rows = await conn.fetch("EXPLAIN QUERY PLAN " + query, operation_id)
    return "\n".join(str(row[-1]) for row in rows)


async def test_the_count_reads_the_partial_index_of_failures(db: Database) -> None:
    operation_id = new_operation_id()
    await db.write(lambda conn: _fill(conn, operation_id, new_operation_id()))

    plan = await db.write(lambda conn: _plan(conn, operation_id))

    assert "ix_messages_operation_errors" in plan, plan
