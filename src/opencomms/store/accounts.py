"""Accounts and API keys. Secrets are stored as SHA-256 digests only.

Auth tokens and key secrets are 128-bit random values, not passwords: a fast digest
cannot be brute-forced and keeps authentication off the request's critical path
(a slow KDF would cost milliseconds on every call).
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from opencomms.store.database import Conn
from opencomms.store.records import AccountRecord, ApiKeyRecord

__all__ = [
    "Credential",
    "SigningSecrets",
    "credential_hash",
    "delete_api_key",
    "find_credential",
    "get_account",
    "insert_account",
    "insert_api_key",
    "list_account_sids",
    "list_api_keys",
    "one_sealed_secret",
    "set_auth_token",
    "signing_secrets",
]


def credential_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def one_sealed_secret(conn: Conn) -> str | None:
    """A sealed auth token from the database (None when it has no account yet): what a
    starting server tries its key on."""
    row = await conn.fetchrow("SELECT auth_token_sealed FROM accounts LIMIT 1")
    return None if row is None else str(row[0])


async def insert_account(
    conn: Conn,
    sid: str,
    *,
    auth_token: str,
    auth_token_sealed: str,
    webhook_secret_sealed: str,
    friendly_name: str,
    now: int,
) -> bool:
    """Create the account unless it exists; True when it was created."""
    changed = await conn.execute(
        "INSERT INTO accounts (sid, auth_token_hash, auth_token_sealed, webhook_secret_sealed,"
        " friendly_name, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sid) DO NOTHING",
        sid,
        credential_hash(auth_token),
        auth_token_sealed,
        webhook_secret_sealed,
        friendly_name,
        now,
    )
    return changed == 1


async def set_auth_token(conn: Conn, sid: str, *, auth_token: str, auth_token_sealed: str) -> bool:
    """Replace the account's auth token; False when there is no such account."""
    changed = await conn.execute(
        "UPDATE accounts SET auth_token_hash = ?, auth_token_sealed = ? WHERE sid = ?",
        credential_hash(auth_token),
        auth_token_sealed,
        sid,
    )
    return changed == 1


class SigningSecrets(NamedTuple):
    """What signs an account's callbacks, both sealed."""

    auth_token_sealed: str
    webhook_secret_sealed: str


class Credential(NamedTuple):
    """Whose a credential is, and the digest its secret must match."""

    account_sid: str
    secret_hash: str


async def signing_secrets(conn: Conn, sid: str) -> SigningSecrets | None:
    """The auth token and webhook secret of an account, sealed, to sign its callbacks."""
    row = await conn.fetchrow(
        "SELECT auth_token_sealed, webhook_secret_sealed FROM accounts WHERE sid = ?", sid
    )
    return None if row is None else SigningSecrets(row[0], row[1])


async def get_account(conn: Conn, sid: str) -> AccountRecord | None:
    row = await conn.fetchrow(
        "SELECT sid, friendly_name, created_at FROM accounts WHERE sid = ?", sid
    )
    return None if row is None else AccountRecord(*row)


async def list_account_sids(conn: Conn) -> list[str]:
    return [row[0] for row in await conn.fetch("SELECT sid FROM accounts ORDER BY sid")]


async def find_credential(conn: Conn, username: str) -> Credential | None:
    """The account and secret digest of an account sid or an API key sid."""
    if username.startswith("SK"):
        row = await conn.fetchrow(
            "SELECT account_sid, secret_hash FROM api_keys WHERE sid = ?", username
        )
    else:
        row = await conn.fetchrow(
            "SELECT sid, auth_token_hash FROM accounts WHERE sid = ?", username
        )
    return None if row is None else Credential(row[0], row[1])


async def insert_api_key(
    conn: Conn, sid: str, account_sid: str, secret: str, friendly_name: str, now: int
) -> ApiKeyRecord:
    await conn.execute(
        "INSERT INTO api_keys (sid, account_sid, secret_hash, friendly_name, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        sid,
        account_sid,
        credential_hash(secret),
        friendly_name,
        now,
    )
    return ApiKeyRecord(sid, account_sid, friendly_name, now)


async def list_api_keys(conn: Conn, account_sid: str) -> list[ApiKeyRecord]:
    rows = await conn.fetch(
        "SELECT sid, account_sid, friendly_name, created_at FROM api_keys"
        " WHERE account_sid = ? ORDER BY created_at DESC, sid",
        account_sid,
    )
    return [ApiKeyRecord(*row) for row in rows]


async def delete_api_key(conn: Conn, account_sid: str, sid: str) -> bool:
    changed = await conn.execute(
        "DELETE FROM api_keys WHERE sid = ? AND account_sid = ?", sid, account_sid
    )
    return changed == 1
