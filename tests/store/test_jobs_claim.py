"""The fair claim (store/jobs.py `claim_fair`): turns between accounts, size ranges,
leases, and reads that do not sort the whole backlog (both engines)."""

from __future__ import annotations

from opencomms.store import jobs
from opencomms.store.database import Conn, Database

NOW = 1_000_000
LEASE_MS = 10_000
SMALL, LARGE = (0, 100), (101, 2**31 - 1)


async def enqueue(db: Database, account: str, refs: list[str], size: int = 1, at: int = 0) -> None:
    async def write(conn: Conn) -> None:
        for offset, ref in enumerate(refs):
            run_at = NOW - 10_000 + at + offset
            await jobs.enqueue(
                conn, "fanout", ref, run_at=run_at, now=run_at, account_sid=account, size=size
            )

    await db.write(write)


async def claim(
    db: Database, limit: int, sizes: tuple[int, int] = SMALL, now: int = NOW
) -> list[str]:
    return await db.write(
        lambda conn: jobs.claim_fair(
            conn, "fanout", now=now, lease_ms=LEASE_MS, limit=limit, sizes=sizes
        )
    )


async def test_accounts_take_turns_oldest_first(db: Database) -> None:
    await enqueue(db, "AC-flood", [f"F{i}" for i in range(50)])
    await enqueue(db, "AC-lone", ["L0"], at=1_000)
    await enqueue(db, "AC-pair", ["P0", "P1"], at=500)

    assert await claim(db, 5) == ["F0", "P0", "L0", "F1", "P1"]
    assert await claim(db, 3) == ["F2", "F3", "F4"]


async def test_a_leased_job_is_not_claimed_again_until_its_lease_ends(db: Database) -> None:
    await enqueue(db, "AC1", ["A", "B"])

    assert await claim(db, 1) == ["A"]
    assert await claim(db, 5) == ["B"]
    assert await claim(db, 5) == []
    assert sorted(await claim(db, 5, now=NOW + LEASE_MS)) == ["A", "B"]


async def test_each_lane_claims_only_its_sizes(db: Database) -> None:
    await enqueue(db, "AC1", [f"S{i}" for i in range(300)], size=1)
    await enqueue(db, "AC1", ["BIG"], size=10_000, at=5_000)
    await enqueue(db, "AC2", ["EDGE"], size=100, at=6_000)

    assert await claim(db, 5, LARGE) == ["BIG"]
    small = await claim(db, 400)
    assert len(small) == 301 and "EDGE" in small and "BIG" not in small


async def test_a_job_not_yet_due_waits(db: Database) -> None:
    await enqueue(db, "AC1", ["LATER"], at=20_000)

    assert await claim(db, 5) == []
    assert await claim(db, 5, now=NOW + 20_000) == ["LATER"]


async def test_many_accounts_are_all_seen(db: Database) -> None:
    """More accounts than one read takes (500): each still gets its turn."""
    for n in range(620):
        await enqueue(db, f"AC{n:04d}", [f"J{n}-0", f"J{n}-1"], at=n)

    first = await claim(db, 620)
    assert sorted(first) == sorted(f"J{n}-0" for n in range(620))


async def test_the_claim_reads_by_index_not_by_sorting_the_backlog(db: Database) -> None:
    """The per-account read walks ix_jobs_fair in age order and stops at its limit; it
    does not sort every due job (which made a flood slow its own drain). PostgreSQL picks
    its plan by its statistics, which a few test rows make a sequential scan: told not to,
    it must find the same walk."""
    await enqueue(db, "AC1", [f"S{i}" for i in range(20)])
    sqlite = db.dialect == "sqlite"
    read = jobs._OLDEST.format(ix=" INDEXED BY ix_jobs_fair" if sqlite else "", n=0)
    explain, sort = ("EXPLAIN QUERY PLAN", "TEMP B-TREE") if sqlite else ("EXPLAIN", "Sort")

    async def plan(conn: Conn) -> str:
        if not sqlite:
            await conn.execute("SET LOCAL enable_seqscan = off")
        rows = await conn.fetch(f"{explain} {read}", "fanout", "AC1", NOW, NOW, 0, 100, 10)
        return " | ".join(str(row[-1]) for row in rows)

    text = await db.read(plan)
    assert "ix_jobs_fair" in text and sort not in text, text
