"""HTTP Basic authentication: `AccountSid:AuthToken` or `ApiKeySid:ApiKeySecret`.

Verified credentials are remembered for `CACHE_SECONDS` (by a digest of the secret) so a
busy client costs no database read per request. That is also how long a credential
revoked by another process (a deleted API key, a rotated auth token) may still be taken
here: the process that deletes a key forgets it at once, every other one within 2 s. A
database read costs ~0.4 ms on PostgreSQL; the digest and the clock ~0.5 us: the cache
costs at most one read per credential and process every 2 s.
"""

from __future__ import annotations

import base64
import hmac
import re
import time
from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware.authentication import (
    AbstractAuthenticationMiddleware,
    AuthenticationResult,
)

from opencomms.api.errors import ApiError
from opencomms.store import accounts

__all__ = ["BasicAuthMiddleware", "forget_credential"]

CACHE_SECONDS = 2.0
# an account or key SID: printable ASCII; anything else (a NUL byte...) never reaches the database
_USERNAME = re.compile(r"[\x21-\x7e]{1,128}")
_verified: dict[tuple[str, str], tuple[str, float]] = {}
# Bumped by every revocation: a check that read the database before a revocation must not
# cache its (now stale) answer after it, or a deleted key would keep working a while.
_revocations = 0


def forget_credential(username: str) -> None:
    """Drop a revoked credential from the cache at once."""
    global _revocations  # noqa: PLW0603
    _revocations += 1
    for key in [key for key in _verified if key[0] == username]:
        del _verified[key]


def _credentials(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise ApiError(401)
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except ValueError:  # binascii.Error, UnicodeDecodeError, and non-ASCII text
        raise ApiError(401) from None
    username, sep, secret = decoded.partition(":")
    if not sep or not secret or not _USERNAME.fullmatch(username):
        raise ApiError(401)
    return username, secret


class BasicAuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        username, secret = _credentials(connection.headers.get("authorization", ""))
        digest = accounts.credential_hash(secret)
        cached = _verified.get((username, digest))
        if cached is not None and cached[1] > time.monotonic():
            return AuthenticationResult(user=cached[0], auth=username)
        runtime = connection.app.state.runtime
        revocations = _revocations
        found = await runtime.db.read(lambda conn: accounts.find_credential(conn, username))
        if found is None or not hmac.compare_digest(found.secret_hash, digest):
            raise ApiError(401)
        if revocations == _revocations:
            _verified[(username, digest)] = (found.account_sid, time.monotonic() + CACHE_SECONDS)
        return AuthenticationResult(user=found.account_sid, auth=username)
