"""Ownership leases: which process runs a singleton (a sink's delivery, a connector with
limited sessions) right now. A lease is a row: its name, its owner, and when it runs
out; an owner renews it while it works, and anyone may take it once it has run out.

Times are the database's own clock (PostgreSQL's `clock_timestamp()`), so that hosts
whose clocks disagree still agree on when a lease runs out; SQLite (one process) uses
the process's clock.
"""

from __future__ import annotations

from collections.abc import Sequence

from opencomms.domain.clock import now_ms
from opencomms.store.database import Conn, placeholders

__all__ = ["database_now", "holders", "release", "release_all", "renew", "take"]

_PG_NOW = "SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint"


async def database_now(conn: Conn) -> int:
    """Milliseconds since the epoch by the database's clock."""
    if conn.dialect != "postgresql":
        return now_ms()
    row = await conn.fetchrow(_PG_NOW)
    assert row is not None
    return int(row[0])


async def take(conn: Conn, name: str, owner: str, ttl_ms: int) -> int | None:
    """Take the lease `name` for `ttl_ms` if it is free, run out, or already `owner`'s:
    when it now runs out (by the database's clock); None when another owner holds it."""
    now = await database_now(conn)
    row = await conn.fetchrow(
        "INSERT INTO ownership_leases (name, owner, expires_at, taken_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
        " expires_at = excluded.expires_at,"
        " taken_at = CASE WHEN ownership_leases.owner = excluded.owner"
        " THEN ownership_leases.taken_at ELSE excluded.taken_at END"
        " WHERE ownership_leases.owner = excluded.owner OR ownership_leases.expires_at <= ?"
        " RETURNING expires_at",
        name, owner, now + ttl_ms, now, now,
    )  # fmt: skip
    return None if row is None else int(row[0])


async def renew(conn: Conn, names: Sequence[str], owner: str, ttl_ms: int) -> set[str]:
    """Push out the leases among `names` that `owner` still holds (not run out): those it
    still holds. A lease that ran out may have been taken by another: it is not renewed."""
    if not names:
        return set()
    now = await database_now(conn)
    rows = await conn.fetch(
        "UPDATE ownership_leases SET expires_at = ?"
        f" WHERE name IN ({placeholders(len(names))}) AND owner = ? AND expires_at > ?"
        " RETURNING name",
        now + ttl_ms, *names, owner, now,
    )  # fmt: skip
    return {row[0] for row in rows}


async def release(conn: Conn, names: Sequence[str], owner: str) -> None:
    """Give up these leases (at a clean stop): another process may take them at once."""
    if names:
        await conn.execute(
            f"DELETE FROM ownership_leases WHERE name IN ({placeholders(len(names))})"
            " AND owner = ?",
            *names,
            owner,
        )


async def holders(conn: Conn, prefix: str) -> dict[str, tuple[str, int]]:
    """The leases whose name starts with `prefix`: name -> (owner, expires_at). The
    table holds one row per singleton: it is read whole."""
    rows = await conn.fetch("SELECT name, owner, expires_at FROM ownership_leases ORDER BY name")
    return {row[0]: (row[1], int(row[2])) for row in rows if row[0].startswith(prefix)}


async def release_all(conn: Conn) -> None:
    """Every lease goes: only for a database that one process alone uses (SQLite), at
    its start, when any lease found was left by a process that is gone."""
    await conn.execute("DELETE FROM ownership_leases")
