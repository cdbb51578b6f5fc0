"""HTTP Basic authentication: `AccountSid:AuthToken` or `ApiKeySid:ApiKeySecret`.

Verified credentials are remembered for a minute (by a digest of the secret) so a busy
client costs no database read per request.
"""

from __future__ import annotations

import base64
import binascii
import hmac
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

CACHE_SECONDS = 60.0
_verified: dict[tuple[str, str], tuple[str, float]] = {}


def forget_credential(username: str) -> None:
    """Drop a revoked credential from the cache at once."""
    for key in [key for key in _verified if key[0] == username]:
        del _verified[key]


def _credentials(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise ApiError(401)
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(401) from None
    username, sep, secret = decoded.partition(":")
    if not sep or not username or not secret:
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
        found = await runtime.db.read(lambda conn: accounts.find_credential(conn, username))
        if found is None or not hmac.compare_digest(found[1], digest):
            raise ApiError(401)
        _verified[(username, digest)] = (found[0], time.monotonic() + CACHE_SECONDS)
        return AuthenticationResult(user=found[0], auth=username)
