"""The delivery worker's look for new events reads only the new ones, never the outbox.

It runs several times a second while events flow; when it read every event kept (as it
did on SQLite, through ix_events_account), delivery slowed as the outbox grew.
"""

from __future__ import annotations

from typing import Any

from opencomms.domain.clock import now_ms
from opencomms.store.database import Conn, Row
from opencomms.store.events import EVENT_COLUMNS, operation_event
from opencomms.store.open import open_database
from opencomms.store.outbox_watch import OutboxWatch
from tests.support.databases import database_url

KEPT_EVENTS = 5_000


class RecordingConn:
    """A connection that remembers the statements read through it."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.dialect = conn.dialect
        self.statements: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        self.statements.append((sql, args))
        return await self.conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        self.statements.append((sql, args))
        return await self.conn.fetchrow(sql, *args)


async def test_a_look_on_sqlite_reads_a_range_of_the_outbox_not_all_of_it(tmp_path: Any) -> None:
    with database_url("sqlite", str(tmp_path)) as url:
        db = await open_database(url)
        try:
            rows = [
                operation_event(f"AC{index % 7:032d}", f"op{index}", "processing", now_ms())
                for index in range(KEPT_EVENTS)
            ]
            await db.write(lambda conn: conn.insert_many("events", EVENT_COLUMNS, rows))
            watch = OutboxWatch()
            await db.read(watch.news)  # the first look only notes where the outbox ends
            await db.write(lambda conn: conn.insert_many("events", EVENT_COLUMNS, rows[:3]))

            async def look(conn: Conn) -> tuple[set[str] | None, list[str]]:
                recording = RecordingConn(conn)
                news = await watch.news(recording)  # type: ignore[arg-type]
                plans = [
                    " / ".join(
                        str(step[3])
                        for step in await conn.fetch(f"EXPLAIN QUERY PLAN {sql}", *args)
                    )
                    for sql, args in recording.statements
                ]
                return news, plans

            news, plans = await db.read(look)
        finally:
            await db.close()
    assert news == {f"AC{index % 7:032d}" for index in range(3)}
    assert plans, "the look read nothing"
    for plan in plans:
        assert "SCAN events" not in plan, plan
