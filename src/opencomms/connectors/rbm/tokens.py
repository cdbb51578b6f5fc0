"""OAuth2 access tokens for RBM, from a service account's key (the JWT-bearer grant).

The key signs an assertion (google-auth's RSA signer) that the key's `token_uri`
exchanges for an access token. A token is kept until shortly before it expires; one
refresh runs at a time however many submissions wait for it; a 401 from RBM asks for
a fresh one (`refresh`), once per stale token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import httpx
from google.auth import crypt, jwt

__all__ = ["SCOPE", "TokenError", "TokenSource"]

SCOPE = "https://www.googleapis.com/auth/rcsbusinessmessaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME_S = 3600
REFRESH_MARGIN_S = 300.0  # a token is renewed this long before it expires


class TokenError(Exception):
    """No token could be had (the token endpoint unreachable, or refusing the key).
    Its message never holds the key, the assertion or a token."""


class TokenSource:
    def __init__(self, info: Mapping[str, Any], client: httpx.AsyncClient) -> None:
        try:
            self._signer = crypt.RSASigner.from_service_account_info(info)  # type: ignore[no-untyped-call]
        except (ValueError, KeyError):
            raise ValueError("rbm: the service account's private_key is not a usable key") from None
        self._email: str = info["client_email"]
        self._token_uri: str = info["token_uri"]
        self._client = client
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._renew_at = 0.0  # loop time
        self.fetched = 0  # tokens obtained so far

    def __repr__(self) -> str:
        return f"TokenSource({self._email!r}, {self._token_uri!r})"

    async def token(self) -> str:
        """A token valid for a while yet."""
        token = self._token
        if token is not None and _now() < self._renew_at:
            return token
        async with self._lock:
            if self._token is None or _now() >= self._renew_at:
                await self._fetch()
            assert self._token is not None
            return self._token

    async def refresh(self, stale: str) -> str:
        """A token other than `stale`, which RBM refused: fetched anew unless another
        caller has already replaced it."""
        async with self._lock:
            if self._token is None or self._token == stale:
                await self._fetch()
            assert self._token is not None
            return self._token

    def assertion(self) -> str:
        """The signed JWT that asks `token_uri` for an RBM token."""
        issued = int(time.time())
        payload = {
            "iss": self._email,
            "scope": SCOPE,
            "aud": self._token_uri,
            "iat": issued,
            "exp": issued + ASSERTION_LIFETIME_S,
        }
        signed: bytes = jwt.encode(self._signer, payload)  # type: ignore[no-untyped-call]
        return signed.decode()

    async def _fetch(self) -> None:
        form = {"grant_type": JWT_BEARER, "assertion": self.assertion()}
        try:
            response = await self._client.post(self._token_uri, data=form)
        except httpx.HTTPError as error:
            raise TokenError(f"token endpoint {self._token_uri}: {type(error).__name__}") from None
        if response.status_code != 200:
            raise TokenError(
                f"token endpoint {self._token_uri} answered {response.status_code}"
                f"{_oauth_error(response)}"
            )
        try:
            answer = response.json()
            token, lifetime = answer["access_token"], float(answer.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise TokenError(f"token endpoint {self._token_uri}: not a token answer") from None
        if not isinstance(token, str) or not token:
            raise TokenError(f"token endpoint {self._token_uri}: not a token answer")
        margin = min(REFRESH_MARGIN_S, lifetime / 2)
        self._token, self._renew_at = token, _now() + lifetime - margin
        self.fetched += 1


def _oauth_error(response: httpx.Response) -> str:
    """`: invalid_grant` from an OAuth error answer (RFC 6749 §5.2), else nothing; the
    description is left out, as some servers echo the request in it."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    shown = isinstance(error, str) and error.isprintable() and len(error) < 64
    return f": {error}" if shown else ""


def _now() -> float:
    return asyncio.get_running_loop().time()
