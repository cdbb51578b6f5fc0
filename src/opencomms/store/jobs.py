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
    another account's lone job.

    The cost does not grow with the backlog: the candidates are read by index, each
    account's oldest `2 * limit` (`_oldest_per_account`) or, for a range that leaves out
    the smallest jobs, every due job in it (`_due_by_size`: large operations are few, the
    admission bound keeps them so). Sorting every due job instead made each claim scan
    the whole backlog, so that a flood of single sends slowed its own drain. On
    PostgreSQL, jobs another process is claiming are skipped; the candidates are twice
    `limit` deep so that it then takes the next ones."""
    depth = 2 * limit
    if sizes[0] > 0:
        candidates = await _due_by_size(conn, kind, now, sizes)
    else:
        candidates = await _oldest_per_account(conn, kind, now, sizes, depth)
    ranked = _in_turns(candidates)[:depth]
    if not ranked:
        return []
    return await _lease(conn, ranked, now=now, lease_ms=lease_ms, limit=limit)


_Candidate = tuple[int, str, int]  # a due job: id, account, run_at
_ACCOUNTS_PER_READ = 500  # an account's read takes 7 variables; SQLite allows 32,766
_ACCOUNTS = (
    # a loose index scan over ix_jobs_fair: one seek per account, whatever its backlog
    "WITH RECURSIVE accounts(sid) AS ("
    " SELECT (SELECT account_sid FROM jobs{ix} WHERE kind = ? ORDER BY account_sid LIMIT 1)"
    " UNION ALL SELECT (SELECT account_sid FROM jobs{ix} WHERE kind = ?"
    " AND account_sid > accounts.sid ORDER BY account_sid LIMIT 1)"
    " FROM accounts WHERE accounts.sid IS NOT NULL"
    ") SELECT sid FROM accounts WHERE sid IS NOT NULL"
)
_OLDEST = (
    "SELECT * FROM (SELECT id, account_sid, run_at FROM jobs{ix} WHERE kind = ?"
    " AND account_sid = ? AND run_at <= ? AND locked_until <= ? AND size BETWEEN ? AND ?"
    " ORDER BY run_at, id LIMIT ?) AS a{n}"
)
_BY_SIZE = (
    "SELECT id, account_sid, run_at FROM jobs{ix} WHERE kind = ? AND size BETWEEN ? AND ?"
    " AND run_at <= ? AND locked_until <= ?"
)


def _indexed(conn: Conn, index: str) -> str:
    """SQLite, without statistics, is told the index; PostgreSQL chooses by its own."""
    return f" INDEXED BY {index}" if conn.dialect == "sqlite" else ""


async def _oldest_per_account(
    conn: Conn, kind: str, now: int, sizes: tuple[int, int], depth: int
) -> list[_Candidate]:
    ix = _indexed(conn, "ix_jobs_fair")
    accounts = [row[0] for row in await conn.fetch(_ACCOUNTS.format(ix=ix), kind, kind)]
    found: list[_Candidate] = []
    for start in range(0, len(accounts), _ACCOUNTS_PER_READ):
        chunk = accounts[start : start + _ACCOUNTS_PER_READ]
        sql = " UNION ALL ".join(_OLDEST.format(ix=ix, n=n) for n in range(len(chunk)))
        args = [a for sid in chunk for a in (kind, sid, now, now, *sizes, depth)]
        found += [(row[0], row[1], row[2]) for row in await conn.fetch(sql, *args)]
    return found


async def _due_by_size(conn: Conn, kind: str, now: int, sizes: tuple[int, int]) -> list[_Candidate]:
    sql = _BY_SIZE.format(ix=_indexed(conn, "ix_jobs_size"))
    return [(row[0], row[1], row[2]) for row in await conn.fetch(sql, kind, *sizes, now, now)]


def _in_turns(candidates: list[_Candidate]) -> list[_Candidate]:
    """Every account's oldest, then every account's second oldest, …; within a turn,
    oldest first."""
    by_account: dict[str, list[_Candidate]] = {}
    for candidate in sorted(candidates, key=lambda c: (c[2], c[0])):
        by_account.setdefault(candidate[1], []).append(candidate)
    turns = {c[0]: turn for jobs in by_account.values() for turn, c in enumerate(jobs)}
    return sorted(candidates, key=lambda c: (turns[c[0]], c[2], c[0]))


async def _lease(
    conn: Conn, ranked: list[_Candidate], *, now: int, lease_ms: int, limit: int
) -> list[str]:
    """Lease the first `limit` of `ranked` still due and free; their refs, in turn."""
    ids = [c[0] for c in ranked]
    if conn.dialect == "postgresql":  # another process may hold or have taken some
        rows = await conn.fetch(
            "UPDATE jobs SET locked_until = ?, tries = tries + 1 WHERE id IN ("
            " SELECT j.id FROM jobs j JOIN unnest(?::bigint[], ?::int[]) AS c(id, rank)"
            " ON c.id = j.id WHERE j.run_at <= ? AND j.locked_until <= ?"
            " ORDER BY c.rank LIMIT ? FOR UPDATE OF j SKIP LOCKED) RETURNING id, ref",
            now + lease_ms,
            ids,
            list(range(len(ids))),
            now,
            now,
            limit,
        )
    else:  # one process, one writer: the candidates just read are still due and free
        rows = await conn.fetch(
            f"UPDATE jobs SET locked_until = ?, tries = tries + 1"
            f" WHERE id IN ({placeholders(min(limit, len(ids)))}) RETURNING id, ref",
            now + lease_ms,
            *ids[:limit],
        )
    rank = {job_id: index for index, job_id in enumerate(ids)}
    return [row[1] for row in sorted(rows, key=lambda row: rank[row[0]])]


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
