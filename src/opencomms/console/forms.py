"""A console form: its fields, once its CSRF token is checked against the session's."""

from __future__ import annotations

from typing import Any

from litestar import Request

from opencomms.console.session import Session, check_csrf, session_of

__all__ = ["signed_form"]

AnyRequest = Request[Any, Any, Any]


async def signed_form(request: AnyRequest) -> tuple[Session, dict[str, str]]:
    """The session and the form's text fields; SignInRequired or CsrfRefused else."""
    session = session_of(request)
    form = {name: value for name, value in (await request.form()).items() if isinstance(value, str)}
    check_csrf(session.csrf, form)
    return session, form
