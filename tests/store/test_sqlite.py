"""The SQLite engine's single writer: group commit, isolation of failures, cancellation."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from opencomms.store.database import Conn
from opencomms.store.sqlite import ProcessLock, SqliteDatabase, SqliteInUse
from tests.support.process import ServeProcess


async def _create(conn: Conn) -> None:
    await conn.execute("CREATE TABLE IF NOT EXISTS t (v INTEGER PRIMARY KEY)")


async def _count(conn: Conn) -> int:
    row = await conn.fetchrow("SELECT COUNT(*) FROM t")
    assert row is not None
    return int(row[0])


@pytest.fixture
async def db(tmp_path: Path) -> SqliteDatabase:
    database = SqliteDatabase(str(tmp_path / "t.db"))
    await database.write(_create)
    yield database  # type: ignore[misc]
    await database.close()


async def test_a_failing_intent_does_not_undo_the_others_of_its_group(db: SqliteDatabase) -> None:
    async def insert(conn: Conn, value: int) -> None:
        await conn.execute("INSERT INTO t (v) VALUES (?)", value)

    results = await asyncio.gather(
        db.write(lambda c: insert(c, 1)),
        db.write(lambda c: insert(c, 1)),  # duplicate key: fails alone
        db.write(lambda c: insert(c, 2)),
        return_exceptions=True,
    )

    assert [isinstance(r, Exception) for r in results] == [False, True, False]
    assert await db.read(_count) == 2


async def test_a_write_cancelled_while_queued_is_not_applied_and_the_writer_lives(
    db: SqliteDatabase,
) -> None:
    async def slow(conn: Conn) -> None:
        time.sleep(0.2)  # noqa: ASYNC251 - a slow statement, in the writer thread

    async def insert(conn: Conn) -> None:
        await conn.execute("INSERT INTO t (v) VALUES (7)")

    busy = asyncio.create_task(db.write(slow))
    await asyncio.sleep(0.05)
    victim = asyncio.create_task(db.write(insert))
    await asyncio.sleep(0.01)
    victim.cancel()
    await busy

    assert await asyncio.wait_for(db.read(_count), 5) == 0
    await asyncio.wait_for(db.write(insert), 5)
    assert await db.read(_count) == 1


def test_a_second_server_on_the_same_file_refuses_to_start_and_says_why(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/opencomms.db"
    first = ServeProcess(url, tmp_path, {}).start()
    try:
        second = ServeProcess(url, tmp_path, {}, piped=True)
        with pytest.raises(RuntimeError, match="opencomms serve exited"):
            second.start()
        assert "another opencomms process is running on the SQLite database" in second.log_text()
        assert httpx.get(first.url + "/healthz").status_code == 200  # the first one goes on
    finally:
        first.kill()  # the kernel drops its lock with it: no stale lock is left
    ServeProcess(url, tmp_path, {}).start().stop()


def test_the_file_lock_is_held_until_released(tmp_path: Path) -> None:
    path = str(tmp_path / "t.db")
    held = ProcessLock(path)
    with pytest.raises(SqliteInUse, match="one process at a time"):
        ProcessLock(path)
    held.release()
    ProcessLock(path).release()
