"""Pages rendered from the package's Jinja templates (autoescaped), and the console's
answers to its own exceptions: the sign-in page, a 403 for a POST without its CSRF
token, an HTML 404, and a form's problems."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from litestar import Request, Response
from litestar.response import Redirect

from opencomms.console.internal_api import ApiFailure, NotFound
from opencomms.console.session import CsrfRefused, SignInRequired

__all__ = ["exception_handlers", "page"]

AnyRequest = Request[Any, Any, Any]
HERE = Path(__file__).parent
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=jinja2.select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _datetime(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


_env.filters["datetime"] = _datetime


def page(name: str, status: int = 200, **context: Any) -> Response[str]:
    """The template `name` with `context` (`session` is None on the public pages)."""
    context.setdefault("session", None)
    html = _env.get_template(name).render(**context)
    return Response(
        html,
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"},
    )


def _sign_in(request: AnyRequest, _: Exception) -> Response[Any]:
    if request.method == "GET":
        return Redirect(f"/signin?next={request.url.path}")
    return page("error.html", status=401, title="Signed out", problems=["Sign in again."])


def _not_found(_: AnyRequest, __: Exception) -> Response[Any]:
    return page("error.html", status=404, title="Not found", problems=["Nothing here."])


def _csrf(_: AnyRequest, __: Exception) -> Response[Any]:
    problem = "The form was not sent from this console (CSRF token missing or wrong)."
    return page("error.html", status=403, title="Refused", problems=[problem])


def _failure(_: AnyRequest, exc: Exception) -> Response[Any]:
    assert isinstance(exc, ApiFailure)
    return page("error.html", status=exc.status, title="Refused", problems=exc.problems)


exception_handlers: dict[int | type[Exception], Any] = {
    SignInRequired: _sign_in,
    NotFound: _not_found,
    CsrfRefused: _csrf,
    ApiFailure: _failure,
}
