"""The jobs table: coarse background work (one fan-out per operation), claimed with a lease.

Per-message work does not go through here: a Message's `due_at` is its own queue entry.
A job knows its account and its size (a fan-out: its operation's recipients), so that
`claim_fair` takes turns between accounts and picks small or large work.
"""

from __future__ import annotations

from collections.abc import Sequence

from opencomms.store.database import Conn, placeholders

__all__ = [
    "claim",
    "claim_fair",
    "enqueue",
    "finish",
    "finish_many",
    "release_all",
    "renew",
    "retry_later",
]


async def enqueue(
    conn: Conn,
    kind: str,
    ref: str,
    *,
    run_at: int,
    now: int,
    account_sid: str = "",
    size: int = 0,
) -> None:
    await conn.execute(
        "INSERT INTO jobs (kind, ref, run_at, locked_until, tries, created_at, account_sid, size)"
        " VALUES (?, ?, ?, 0, 0, ?, ?, ?) ON CONFLICT (kind, ref) DO NOTHING",
        kind,
        ref,
        run_at,
        now,
        account_sid,
        size,
    )


async def claim(conn: Conn, kind: str, *, now: int, lease_ms: int, limit: int) -> list[str]:
    """Lease up to `limit` due jobs of `kind`; their refs."""
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect == "postgresql" else ""
    rows = await conn.fetch(
        "UPDATE jobs SET locked_until = ?, tries = tries + 1 WHERE id IN ("
        " SELECT id FROM jobs WHERE kind = ? AND run_at <= ? AND locked_until <= ?"
        f" ORDER BY run_at LIMIT ?{lock}) RETURNING ref",
        now + lease_ms,
        kind,
        now,
        now,
        limit,
    )
    return [row[0] for row in rows]


async def claim_fair(
    conn: Conn,
    kind: str,
    *,
    now: int,
    lease_ms: int,
    limit: int,
    sizes: tuple[int, int],
) -> list[str]:
    """Lease up to `limit` due jobs of `kind` whose size is within `sizes` (both ends
    included), taking turns between accounts: every account's oldest job, then every
    account's second oldest, and so on. One account's flood of jobs does not hold back
    another account's lone job. On PostgreSQL, jobs another process is claiming are
    skipped; the candidates are twice `limit` deep so that it then takes the next ones."""
    lock = " FOR UPDATE OF j SKIP LOCKED" if conn.dialect == "postgresql" else ""
    rows = await conn.fetch(
        "UPDATE jobs SET locked_until = ?, tries = tries + 1 WHERE id IN ("
        " SELECT j.id FROM jobs j JOIN ("
        "  SELECT id, run_at,"
        "   ROW_NUMBER() OVER (PARTITION BY account_sid ORDER BY run_at, id) AS turn"
        "  FROM jobs WHERE kind = ? AND run_at <= ? AND locked_until <= ?"
        "  AND size BETWEEN ? AND ? ORDER BY turn, run_at, id LIMIT ?"
        f" ) due ON due.id = j.id ORDER BY due.turn, due.run_at, due.id LIMIT ?{lock})"
        " RETURNING ref",
        now + lease_ms,
        kind,
        now,
        now,
        *sizes,
        limit * 2,
        limit,
    )
    return [row[0] for row in rows]


async def renew(conn: Conn, kind: str, ref: str, *, until: int) -> None:
    """Push a job's lease to `until`: its worker is still at it."""
    await conn.execute(
        "UPDATE jobs SET locked_until = ? WHERE kind = ? AND ref = ? AND locked_until > 0",
        until,
        kind,
        ref,
    )


async def finish(conn: Conn, kind: str, ref: str) -> None:
    await conn.execute("DELETE FROM jobs WHERE kind = ? AND ref = ?", kind, ref)


async def finish_many(conn: Conn, kind: str, refs: Sequence[str]) -> None:
    if refs:
        await conn.execute(
            f"DELETE FROM jobs WHERE kind = ? AND ref IN ({placeholders(len(refs))})", kind, *refs
        )


async def retry_later(conn: Conn, kind: str, ref: str, *, run_at: int) -> None:
    await conn.execute(
        "UPDATE jobs SET run_at = ?, locked_until = 0 WHERE kind = ? AND ref = ?", run_at, kind, ref
    )


async def release_all(conn: Conn) -> None:
    """Free every lease (SQLite only: a starting process is the only one on the file)."""
    await conn.execute("UPDATE jobs SET locked_until = 0 WHERE locked_until > 0")
