"""The jobs table: coarse background work (one fan-out per operation), claimed with a lease.

Per-message work does not go through here: a Message's `due_at` is its own queue entry.
"""

from __future__ import annotations

from opencomms.store.database import Conn

__all__ = ["claim", "enqueue", "finish", "release_all", "renew", "retry_later"]


async def enqueue(conn: Conn, kind: str, ref: str, *, run_at: int, now: int) -> None:
    await conn.execute(
        "INSERT INTO jobs (kind, ref, run_at, locked_until, tries, created_at)"
        " VALUES (?, ?, ?, 0, 0, ?) ON CONFLICT (kind, ref) DO NOTHING",
        kind,
        ref,
        run_at,
        now,
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


async def retry_later(conn: Conn, kind: str, ref: str, *, run_at: int) -> None:
    await conn.execute(
        "UPDATE jobs SET run_at = ?, locked_until = 0 WHERE kind = ? AND ref = ?", run_at, kind, ref
    )


async def release_all(conn: Conn) -> None:
    """Free every lease (SQLite only: a starting process is the only one on the file)."""
    await conn.execute("UPDATE jobs SET locked_until = 0 WHERE locked_until > 0")
