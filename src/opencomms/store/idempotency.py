"""Idempotency keys: claim a key, record the answer given under it, or let it go.

A key moves PENDING (claimed by a request being accepted) → DONE (its answer recorded,
in the transaction that stored the operation). A request that fails before that deletes
its PENDING row, so only an accepted request consumes its key. The row's `created_at` is
also the claim's stamp: completing or releasing a claim checks that the row still bears
it, so a request whose PENDING row was taken over (after a crash, see `STALE_PENDING_MS`)
can neither record an answer nor delete the new owner's claim.
"""

from __future__ import annotations

from dataclasses import dataclass

from opencomms.store.database import Conn
from opencomms.store.jsoncol import dump, load

__all__ = [
    "KEEP_MS",
    "STALE_PENDING_MS",
    "Claim",
    "ClaimLost",
    "KeyRecord",
    "claim_key",
    "complete_key",
    "get_key",
    "release_key",
]

KEEP_MS = 24 * 3600 * 1000
"""How long a key is remembered by default (`retention.idempotency_keys`), from its claim;
an older one is forgotten."""

STALE_PENDING_MS = 60 * 1000
"""A PENDING claim this old belongs to a request that died (an accept takes well under
a second); a request with the same key and body may take it over."""

_CLAIM_TRIES = 3
_COLUMNS = "request_hash, status, response_status, response_body, response_headers, created_at"


@dataclass(frozen=True)
class Claim:
    """This request holds the key; `stamp` is the `created_at` it wrote."""

    account_sid: str
    key: str
    stamp: int


@dataclass(frozen=True)
class KeyRecord:
    """A key held by another request (PENDING) or already answered (DONE)."""

    request_hash: str
    status: str
    response_status: int | None
    response_body: str | None
    response_headers: dict[str, str] | None
    created_at: int


class ClaimLost(Exception):
    """The claim was taken over: the transaction recording its answer must not commit."""


async def get_key(conn: Conn, account_sid: str, key: str) -> KeyRecord | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM idempotency_keys WHERE account_sid = ? AND key = ?",
        account_sid,
        key,
    )
    if row is None:
        return None
    return KeyRecord(row[0], row[1], row[2], row[3], load(row[4]), row[5])


async def claim_key(
    conn: Conn,
    account_sid: str,
    key: str,
    request_hash: str,
    now: int,
    *,
    keep_ms: int | None = KEEP_MS,
) -> Claim | KeyRecord | None:
    """Claim `key` for a request whose body hashes to `request_hash`.

    The claim, or the record that stands in its way; None if the key kept changing
    hands while we looked (the caller answers as for a claim in flight). Keys of the
    account older than `keep_ms` (None: kept forever) are deleted first, so an expired
    key is new at once; the pruner deletes the others' in the background.
    """
    if keep_ms is not None:
        await conn.execute(
            "DELETE FROM idempotency_keys WHERE account_sid = ? AND created_at <= ?",
            account_sid,
            now - keep_ms,
        )
    for _ in range(_CLAIM_TRIES):
        inserted = await conn.execute(
            "INSERT INTO idempotency_keys (account_sid, key, request_hash, status, created_at)"
            " VALUES (?, ?, ?, 'PENDING', ?) ON CONFLICT (account_sid, key) DO NOTHING",
            account_sid,
            key,
            request_hash,
            now,
        )
        if inserted:
            return Claim(account_sid, key, now)
        record = await get_key(conn, account_sid, key)
        if record is None:
            continue  # released between our insert and our read (PostgreSQL): try again
        if not _abandoned(record, request_hash, now):
            return record
        if await _take_over(conn, account_sid, key, record.created_at, now):
            return Claim(account_sid, key, now)
    return None


def _abandoned(record: KeyRecord, request_hash: str, now: int) -> bool:
    """A PENDING claim of the same request left by a request that died."""
    return (
        record.status == "PENDING"
        and record.request_hash == request_hash
        and record.created_at <= now - STALE_PENDING_MS
    )


async def _take_over(conn: Conn, account_sid: str, key: str, stamp: int, now: int) -> bool:
    """Restamp an abandoned claim as ours, unless another request did it first."""
    changed = await conn.execute(
        "UPDATE idempotency_keys SET created_at = ?"
        " WHERE account_sid = ? AND key = ? AND status = 'PENDING' AND created_at = ?",
        now,
        account_sid,
        key,
        stamp,
    )
    return changed == 1


async def complete_key(
    conn: Conn, claim: Claim, status: int, body: bytes, headers: dict[str, str]
) -> None:
    """Record the answer given under the claim; meant for the transaction that stores
    what the answer announces, so that neither can exist without the other.

    Raises ClaimLost (rolling that transaction back) if the claim is no longer ours.
    """
    changed = await conn.execute(
        "UPDATE idempotency_keys SET status = 'DONE', response_status = ?, response_body = ?,"
        " response_headers = ?"
        " WHERE account_sid = ? AND key = ? AND status = 'PENDING' AND created_at = ?",
        status,
        body.decode(),
        dump(headers),
        claim.account_sid,
        claim.key,
        claim.stamp,
    )
    if changed != 1:
        raise ClaimLost(claim.key)


async def release_key(conn: Conn, claim: Claim) -> None:
    """Give the key back: the request failed before it was accepted."""
    await conn.execute(
        "DELETE FROM idempotency_keys"
        " WHERE account_sid = ? AND key = ? AND status = 'PENDING' AND created_at = ?",
        claim.account_sid,
        claim.key,
        claim.stamp,
    )
