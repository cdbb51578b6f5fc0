"""The console's session: a cookie sealed with the server's key (AES-GCM, so it can be
neither read nor forged), HttpOnly, SameSite=Lax, Secure when the public URL is https.

It carries the credential the user signed in with, sealed, because the console acts
through the API as that user (see internal_api); and the session's CSRF token, which
every POST form must echo.
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any

import msgspec
from cryptography.exceptions import InvalidTag
from litestar import Request, Response

from opencomms.engine.runtime import Runtime

__all__ = [
    "COOKIE",
    "PRE_COOKIE",
    "Session",
    "SignInRequired",
    "check_csrf",
    "clear_session",
    "new_session",
    "session_of",
    "set_cookie",
]

COOKIE = "opencomms_console"
PRE_COOKIE = "opencomms_console_csrf"  # the sign-in form's CSRF token, before any session
LIFETIME_SECONDS = 8 * 3600
AnyRequest = Request[Any, Any, Any]


class Session(msgspec.Struct, frozen=True):
    account_sid: str
    username: str  # the account SID or the API key SID signed in with
    secret: str
    csrf: str
    expires: float


class SignInRequired(Exception):
    """No valid session: the console answers with the sign-in page."""


class CsrfRefused(Exception):
    """A POST without the session's CSRF token: refused (403), nothing changed."""


def _runtime(request: AnyRequest) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def new_session(account_sid: str, username: str, secret: str) -> Session:
    csrf = secrets.token_urlsafe(32)
    return Session(account_sid, username, secret, csrf, time.time() + LIFETIME_SECONDS)


def session_of(request: AnyRequest) -> Session:
    """The request's valid session, else SignInRequired."""
    sealed = request.cookies.get(COOKIE)
    if not sealed:
        raise SignInRequired
    try:
        session = msgspec.json.decode(_runtime(request).sealer.unseal(sealed), type=Session)
    except (InvalidTag, ValueError, msgspec.DecodeError):
        raise SignInRequired from None
    if session.expires < time.time():
        raise SignInRequired
    return session


def check_csrf(expected: str, form: dict[str, Any]) -> None:
    given = form.get("csrf")
    if not isinstance(given, str) or not hmac.compare_digest(given, expected):
        raise CsrfRefused


def _secure(request: AnyRequest) -> bool:
    return _runtime(request).settings.server.public_url.startswith("https://")


def set_cookie(request: AnyRequest, response: Response[Any], name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=LIFETIME_SECONDS,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )


def save_session(request: AnyRequest, response: Response[Any], session: Session) -> None:
    sealed = _runtime(request).sealer.seal(msgspec.json.encode(session).decode())
    set_cookie(request, response, COOKIE, sealed)


def clear_session(response: Response[Any]) -> None:
    response.delete_cookie(COOKIE, path="/")
