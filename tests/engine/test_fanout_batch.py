"""Small operations fan out in batches, on both engines: many claimed at a time, taking
turns between accounts, stored in one transaction; a batch that fails before it commits
leaves nothing behind, one replayed after it commits changes nothing, and a canceled
operation's recipients become CANCELED Messages."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest

from opencomms.domain.clock import now_ms
from opencomms.engine.cancel import CancelOutcome, cancel_operation
from opencomms.engine.fanout_batch import Batch, BatchFanout, claim_batch
from opencomms.engine.rendering import Renderer
from opencomms.settings import TemplateSettings
from opencomms.store import operations, senders
from opencomms.store.database import Conn, Database
from tests.engine.states import NOW, sender

T = TypeVar("T")
LEASE_MS = 30_000


class CountedWrites:
    """The real database, counting its write transactions; `failing`: a statement that
    raises inside its transaction (which then rolls back), as a crash there would."""

    def __init__(self, db: Database, failing: str | None = None) -> None:
        self._db = db
        self.dialect = db.dialect
        self.failing = failing
        self.writes = 0

    async def write(self, intent: Callable[[Conn], Awaitable[T]]) -> T:
        self.writes += 1
        return await self._db.write(lambda conn: intent(_Failing(conn, self.failing)))

    async def read(self, query: Callable[[Conn], Awaitable[T]]) -> T:
        return await self._db.read(query)

    async def close(self) -> None:
        await self._db.close()


class _Failing:
    def __init__(self, conn: Conn, failing: str | None) -> None:
        self._conn = conn
        self._failing = failing
        self.dialect = conn.dialect

    async def execute(self, sql: str, *args: Any) -> int:
        if self._failing and sql.startswith(self._failing):
            raise RuntimeError("injected failure")
        return await self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@pytest.fixture
async def renderer() -> AsyncIterator[Renderer]:
    running = Renderer(TemplateSettings())
    yield running
    await running.close()


async def accept(
    db: Database, account_sid: str, count: int, *, text: str = "Hi", send_at: int | None = None
) -> list[str]:
    """`count` one-recipient operations of `account_sid`, accepted in this order."""
    ids = [f"OP{account_sid}{n:05}" for n in range(count)]
    recipient = [{"addresses": [["+14155550100", "PHONE"]], "variables": {"name": "Ada"}}]

    async def insert(conn: Conn) -> None:
        await senders.insert_sender(conn, sender(f"SN{account_sid}", account_sid=account_sid))
        for operation_id in ids:
            await operations.insert_operation(
                conn, operation_id=operation_id, account_sid=account_sid,
                status="SCHEDULED" if send_at else "PROCESSING",
                spec={"content": {"text": text}, "senders": [f"SN{account_sid}"]},
                recipients=json.dumps(recipient).encode(), recipient_count=1,
                send_at=send_at, now=NOW,
            )  # fmt: skip

    await db.write(insert)
    return ids


async def claim(db: Database) -> Batch:
    return await db.write(lambda conn: claim_batch(conn, NOW + 1))


async def messages_of(db: Database) -> dict[str, list[tuple[str, str]]]:
    """Each operation's Messages, as (status, text)."""
    rows = await db.read(
        lambda conn: conn.fetch("SELECT operation_id, status, content FROM messages")
    )
    found: dict[str, list[tuple[str, str]]] = {}
    for operation_id, status, content in rows:
        found.setdefault(operation_id, []).append((status, json.loads(content)["text"]))
    return found


async def jobs_left(db: Database) -> int:
    row = await db.read(lambda conn: conn.fetchrow("SELECT COUNT(*) FROM jobs"))
    assert row is not None
    return int(row[0])


async def test_many_one_recipient_operations_fan_out_in_one_transaction(
    db: Database, renderer: Renderer
) -> None:
    ids = await accept(db, "AC1", 250)
    counted = CountedWrites(db)

    claimed = await claim(db)
    await BatchFanout(counted, renderer).fan_out(claimed)

    assert len(claimed.refs) == 200
    assert counted.writes == 1
    made = await messages_of(db)
    assert sorted(made) == sorted(claimed.refs) == ids[:200]
    assert all(found == [("QUEUED", "Hi")] for found in made.values())
    assert await jobs_left(db) == 50


async def test_a_batch_that_fails_before_commit_is_redone_once_and_a_replay_is_a_no_op(
    db: Database, renderer: Renderer
) -> None:
    await accept(db, "AC1", 30)
    claimed = await claim(db)
    failing = CountedWrites(db, failing="DELETE FROM jobs")

    with pytest.raises(RuntimeError):
        await BatchFanout(failing, renderer).fan_out(claimed)
    assert await messages_of(db) == {}

    await BatchFanout(db, renderer).fan_out(claimed)
    await BatchFanout(db, renderer).fan_out(claimed)  # replayed: its cursors moved

    made = await messages_of(db)
    assert sorted(made) == sorted(claimed.refs)
    assert all(len(found) == 1 for found in made.values())
    assert await jobs_left(db) == 0


async def test_a_lone_send_is_claimed_first_while_another_account_has_thousands_queued(
    db: Database, renderer: Renderer
) -> None:
    flood = await accept(db, "ACA", 2_000)
    [lone] = await accept(db, "ACB", 1)

    first = await claim(db)
    await BatchFanout(db, renderer).fan_out(first)

    # every account's oldest first: the lone send, then the flood's oldest 199
    assert sorted(first.refs) == sorted([lone, *flood[:199]])
    assert (await messages_of(db))[lone] == [("QUEUED", "Hi")]
    assert await jobs_left(db) == 2_000 - 199


async def test_a_canceled_operation_in_a_batch_gets_canceled_messages_only(
    db: Database, renderer: Renderer
) -> None:
    ids = await accept(db, "AC1", 3)
    outcome = await db.write(lambda conn: cancel_operation(conn, "AC1", ids[1]))
    assert outcome is CancelOutcome.CANCELED

    await BatchFanout(db, renderer).fan_out(await claim(db))

    made = await messages_of(db)
    assert [made[i] for i in ids] == [[("QUEUED", "Hi")], [("CANCELED", "Hi")], [("QUEUED", "Hi")]]
    statuses = await db.read(
        lambda conn: conn.fetch("SELECT id, status FROM operations ORDER BY id")
    )
    assert [row[1] for row in statuses] == ["PROCESSING", "CANCELED", "PROCESSING"]


async def test_scheduled_and_templated_sends_in_a_batch(db: Database, renderer: Renderer) -> None:
    later = now_ms() + 3_600_000
    [scheduled] = await accept(db, "AC1", 1, send_at=later)
    [templated] = await accept(db, "AC2", 1, text="Hi {{ name }}")

    await BatchFanout(db, renderer).fan_out(await claim(db))

    assert (await messages_of(db))[templated] == [("QUEUED", "Hi Ada")]
    row = await db.read(
        lambda conn: conn.fetchrow(
            "SELECT status, due_at, scheduled_for FROM messages WHERE operation_id = ?",
            scheduled,
        )
    )
    assert row is not None and tuple(row) == ("SCHEDULED", later, later)
