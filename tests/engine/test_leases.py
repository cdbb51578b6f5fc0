"""Claims across processes: a Message handed to a connector is leased; no other process
takes it before its lease runs out, a live process renews what it still holds, and one
that runs out is taken over with its attempt in flight (recovered by asking the
connector, never resent blindly). On PostgreSQL a claim held by an open transaction is
skipped, not waited for."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from msgspec.structs import replace

from opencomms.connectors.base import Submission
from opencomms.connectors.simulator import Simulator
from opencomms.domain.clock import now_ms
from opencomms.domain.message_state import MessageState
from opencomms.engine.dispatcher import Dispatcher
from opencomms.engine.outcomes import OutcomeBatch
from opencomms.engine.planning import Claimed, plan_due
from opencomms.settings import ServerSettings, Settings, SimulatorSettings
from opencomms.store import dispatch_state, jobs, senders
from opencomms.store.database import Conn, Database
from tests.engine.states import sender
from tests.engine.test_stored_state import ATTEMPT, MESSAGE, fanned_out
from tests.support.server import ThreadServer

HELD_UNTIL = 11_000


async def claimed_in_flight(conn: Conn) -> None:
    """MM1 claimed by some process at 1_000 for 10 s: its attempt SM1 out at a connector."""
    await fanned_out(conn)
    await dispatch_state.insert_attempts(conn, [ATTEMPT])
    held = MessageState(
        id="MM1", operation_id="OP1", status="QUEUED", settled=False, attempt_count=1,
        next_candidate=1, candidate_count=2, current_attempt_id="SM1", channel="SMS",
        sender=None, due_at=HELD_UNTIL, error_code=None, error_message=None,
    )  # fmt: skip
    await dispatch_state.save_messages(conn, [held], now=1_000)


async def due_ids(db: Database, now: int) -> list[str]:
    due = await db.write(lambda conn: dispatch_state.select_due(conn, now=now, limit=10))
    return [d.state.id for d in due]


async def test_a_held_claim_is_taken_over_only_once_its_lease_ran_out(db: Database) -> None:
    await db.write(claimed_in_flight)

    assert await due_ids(db, HELD_UNTIL - 1) == []
    claimed = await db.write(take_over)

    # taken over with its attempt still in flight: the dispatcher asks the connector
    assert [s.attempt_id for s in claimed.recover["lab"]] == ["SM1"]
    assert claimed.submit == {}
    assert await due_ids(db, HELD_UNTIL + 9_999) == []  # now under the new holder's lease
    assert await due_ids(db, HELD_UNTIL + 10_000) == ["MM1"]


async def take_over(conn: Conn) -> Claimed:
    """What a claim at HELD_UNTIL does, with a lease of 10 s."""
    due = await dispatch_state.select_due(conn, now=HELD_UNTIL, limit=10)
    batch = OutcomeBatch(HELD_UNTIL, {})
    claimed = plan_due(batch, due, {}, HELD_UNTIL + 10_000)
    await batch.save(conn)
    return claimed


async def test_a_claim_takes_each_due_message_once_and_leases_it(db: Database) -> None:
    """Two running operations share the claim (a turn each), then the claim is filled in
    due order: the fill passes over what the turns took."""
    await db.write(two_running_operations)
    dispatcher = Dispatcher(db, {}, lease_ms=10_000)

    claimed = await db.write(dispatcher._claim)

    handed = [s.message_id for group in claimed.submit.values() for s in group]
    assert sorted(handed) == ["MM1", "MM2"]
    assert await count(db, "attempts") == 2
    assert await due_ids(db, claimed.lease_until - 1) == []
    assert await due_ids(db, claimed.lease_until) == ["MM1", "MM2"]


async def two_running_operations(conn: Conn) -> None:
    """OP1 and OP2, PROCESSING, each with one Message due (MM1, MM2), both sendable
    through SN1."""
    await fanned_out(conn)
    await fanned_out(conn, replace(MESSAGE, id="MM2", operation_id="OP2"))
    assert await senders.register_sender(conn, sender("SN1")) is senders.Registration.CREATED


async def count(db: Database, table: str) -> int:
    row = await db.read(lambda conn: conn.fetchrow(f"SELECT COUNT(*) FROM {table}"))
    assert row is not None
    return int(row[0])


async def test_a_renewed_lease_keeps_the_claim_and_a_recorded_answer_is_left_alone(
    db: Database,
) -> None:
    await db.write(claimed_in_flight)

    async def renew(held_until: int, until: int) -> int:
        return await db.write(
            lambda conn: dispatch_state.renew_leases(conn, ["MM1", "MM9"], held_until, until)
        )

    assert await renew(HELD_UNTIL, 50_000) == 1
    assert await due_ids(db, 49_999) == []
    # its holder's view is stale (another process took it over, or its answer moved
    # `due_at`): nothing changes
    assert await renew(HELD_UNTIL, 90_000) == 0
    assert await due_ids(db, 50_000) == ["MM1"]


async def test_a_live_process_renews_the_lease_of_what_its_connector_still_holds(
    db: Database,
) -> None:
    """A submit that takes longer than the lease (a carrier answering in 3 s, a lease of
    1 s, renewed every third of it) keeps its Message: no claim takes it over meanwhile.
    The lease leaves a renewal ~0.6 s to spare for a loaded machine's stalls: with 0.3 s
    (0.2 s to spare) a CI run on a busy machine once saw it taken over."""
    await db.write(claimed_in_flight)
    held_until = now_ms() + 1_000  # as the claim left it

    async def leased(conn: Conn) -> None:
        await conn.execute("UPDATE messages SET due_at = ? WHERE id = 'MM1'", held_until)

    await db.write(leased)
    slow = Simulator(SimulatorSettings(submit_latency_ms=[3_000, 3_000]))

    def ignored(_: object) -> asyncio.Future[None]:
        """A handler that stores nothing and says so at once."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    await slow.start(ignored, ignored)
    dispatcher = Dispatcher(db, {"lab": slow}, lease_ms=1_000)
    submission = Submission(
        "SM1", "MM1", "OP1", "AC1", "SMS", "+12065550100", "+14155550100", {"text": "Hi"}
    )
    processing = asyncio.ensure_future(
        dispatcher._process(Claimed(submit={"lab": [submission]}, lease_until=held_until))
    )
    taken: list[str] = []
    while not processing.done():
        taken += await due_ids(db, now_ms())
        await asyncio.sleep(0.05)
    await slow.close()

    assert taken == []


# PostgreSQL only: SQLite has one writer, so no two claims are ever open together
@pytest.mark.parametrize("url", ["postgresql"], indirect=True)
async def test_postgresql_skips_a_claim_another_transaction_holds(db: Database) -> None:
    await db.write(fanned_out)
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold(conn: Conn) -> list[str]:
        due = await dispatch_state.select_due(conn, now=1_000, limit=10)
        holding.set()
        await release.wait()
        return [d.state.id for d in due]

    first = asyncio.ensure_future(db.write(hold))
    await holding.wait()
    # not blocked by the open claim, and not given its Message
    assert await asyncio.wait_for(due_ids(db, 1_000), 5) == []
    release.set()
    assert await first == ["MM1"]


async def test_a_fanout_job_is_taken_over_only_once_its_lease_ran_out(db: Database) -> None:
    async def enqueue(conn: Conn) -> None:
        await jobs.enqueue(conn, "fanout", "OP1", run_at=0, now=0)

    async def claim(now: int) -> list[str]:
        return await db.write(
            lambda conn: jobs.claim(conn, "fanout", now=now, lease_ms=10_000, limit=5)
        )

    await db.write(enqueue)
    assert await claim(1_000) == ["OP1"]
    assert await claim(10_999) == []
    await db.write(lambda conn: jobs.renew(conn, "fanout", "OP1", until=30_000))
    assert await claim(29_999) == []
    assert await claim(30_000) == ["OP1"]


async def test_a_starting_process_releases_claims_on_sqlite_only(
    db: Database, url: str, tmp_path: Path
) -> None:
    """On SQLite a starting server is the only one (it holds the file), so a claim it
    finds was left by a dead process: due at once. On PostgreSQL it may be a live
    process's: it waits for its lease."""
    far = 10**13

    async def held_far_ahead(conn: Conn) -> None:
        await claimed_in_flight(conn)
        await conn.execute("UPDATE messages SET due_at = ? WHERE id = 'MM1'", far)

    await db.write(held_far_ahead)
    await db.close()
    key = str(tmp_path / "opencomms.key")
    server = ThreadServer(Settings(server=ServerSettings(database_url=url, secret_key_file=key)))
    server.start()
    try:
        row = server.call(
            server.runtime.db.read(
                lambda conn: conn.fetchrow("SELECT due_at FROM messages WHERE id = 'MM1'")
            )
        )
    finally:
        server.stop()
    assert row is not None
    assert (row[0] == far) is (db.dialect == "postgresql")
