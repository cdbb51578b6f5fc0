"""Sign in (account SID + auth token, or API key SID + secret) and sign out."""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Redirect

from opencomms.console.render import page
from opencomms.console.session import (
    PRE_COOKIE,
    check_csrf,
    clear_session,
    new_session,
    save_session,
    session_of,
    set_cookie,
)
from opencomms.engine.runtime import Runtime
from opencomms.store import accounts

__all__ = ["sign_in", "sign_in_form", "sign_out"]

AnyRequest = Request[Any, Any, Any]
_USERNAME = re.compile(r"[\x21-\x7e]{1,128}")  # as the API's Basic auth takes it


def _next(value: Any) -> str:
    """Where to go after signing in: a path of this console only (no open redirect)."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//"):
        return value
    return "/"


def _form(
    request: AnyRequest, next_path: str, username: str = "", problem: str = ""
) -> Response[Any]:
    csrf = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(32)
    response = page(
        "signin.html",
        status=401 if problem else 200,
        title="Sign in",
        csrf=csrf,
        next=next_path,
        username=username,
        problems=[problem] if problem else [],
    )
    set_cookie(request, response, PRE_COOKIE, csrf)
    return response


@get("/signin")
async def sign_in_form(request: AnyRequest) -> Response[Any]:
    return _form(request, _next(request.query_params.get("next")))


async def _account_of(runtime: Runtime, username: str, secret: str) -> str | None:
    """The account the credential belongs to, or None if it is not one."""
    if not secret or not _USERNAME.fullmatch(username):
        return None
    found = await runtime.db.read(lambda conn: accounts.find_credential(conn, username))
    digest = accounts.credential_hash(secret)
    if found is None or not hmac.compare_digest(found.secret_hash, digest):
        return None
    return found.account_sid


@post("/signin")
async def sign_in(request: AnyRequest) -> Response[Any]:
    form = dict(await request.form())
    check_csrf(request.cookies.get(PRE_COOKIE, ""), form)
    username = str(form.get("username", "")).strip()
    secret = str(form.get("secret", ""))
    next_path = _next(form.get("next"))
    account = await _account_of(request.app.state.runtime, username, secret)
    if account is None:
        return _form(request, next_path, username, "Wrong SID or secret.")
    response: Response[Any] = Redirect(next_path)
    save_session(request, response, new_session(account, username, secret))
    return response


@post("/signout")
async def sign_out(request: AnyRequest) -> Response[Any]:
    session = session_of(request)
    check_csrf(session.csrf, dict(await request.form()))
    response: Response[Any] = Redirect("/signin")
    clear_session(response)
    return response
