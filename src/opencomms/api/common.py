"""What every resource handler needs: the runtime, the caller's account, JSON in and out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from litestar import Request, Response

from opencomms.api.errors import ApiError, FieldError, invalid
from opencomms.api.paging import Page, PageTokens, page_envelope, parse_page
from opencomms.store.database import Conn

if TYPE_CHECKING:
    from opencomms.engine.runtime import Runtime

__all__ = [
    "account_of",
    "json_body",
    "json_response",
    "page_of",
    "plain_list",
    "prefix_of",
    "raw_json_body",
    "require_json",
    "runtime_of",
]

T = TypeVar("T")
_encoder = msgspec.json.Encoder()
AnyRequest = Request[Any, Any, Any]


def runtime_of(request: AnyRequest) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def account_of(request: AnyRequest) -> str:
    """The authenticated account's SID (set by the authentication middleware)."""
    account: str = request.user
    return account


def prefix_of(request: AnyRequest) -> str:
    """`/v1` or `/preview`: answers point back into the version that was called."""
    return "/preview" if request.url.path.startswith("/preview") else "/v1"


def page_of(request: AnyRequest, query: Mapping[str, str], errors: list[FieldError]) -> Page:
    """The page a list request asks for, its tokens bound to the caller and this list."""
    scope = account_of(request) + " " + request.url.path.removeprefix(prefix_of(request))
    return parse_page(query, errors, PageTokens(runtime_of(request).page_key, scope))


def require_json(request: AnyRequest) -> None:
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        raise ApiError(415)


async def raw_json_body(request: AnyRequest) -> bytes:
    require_json(request)
    return await request.body()


async def json_body(request: AnyRequest) -> dict[str, Any]:
    """The body as a JSON object, or a 415/400 error."""
    body = await raw_json_body(request)
    try:
        value = msgspec.json.decode(body) if body else {}
    except msgspec.DecodeError as error:
        raise invalid([FieldError("body", f"is not valid JSON: {error}")]) from None
    except RecursionError:
        raise invalid([FieldError("body", "is nested too deeply")]) from None
    if not isinstance(value, dict):
        raise invalid([FieldError("body", "must be a JSON object")])
    return value


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response[bytes]:
    return Response(
        _encoder.encode(data), status_code=status, media_type="application/json", headers=headers
    )


async def plain_list(
    request: AnyRequest,
    key: str,
    fetch: Callable[[Conn, str, str, int], Awaitable[Sequence[T]]],
    render: Callable[[T], Any],
) -> Response[bytes]:
    """A list with paging only: `fetch(conn, account, before, limit)` gives the rows."""
    errors: list[FieldError] = []
    page = page_of(request, dict(request.query_params), errors)
    if errors:
        raise invalid(errors)
    account = account_of(request)
    rows = await runtime_of(request).db.read(
        lambda conn: fetch(conn, account, page.before, page.size + 1)
    )
    return json_response(page_envelope(key, rows, page, render))
