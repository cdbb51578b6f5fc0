"""What every resource handler needs: the runtime, the caller's account, JSON in and out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from litestar import Request, Response

from opencomms.api.errors import ApiError, FieldError, invalid
from opencomms.api.paging import Page, PageTokens, page_envelope, parse_page
from opencomms.domain.storable import is_storable, unstorable_paths
from opencomms.store.database import Conn

if TYPE_CHECKING:
    from opencomms.engine.runtime import Runtime

__all__ = [
    "account_of",
    "base_url_of",
    "decode_json",
    "json_body",
    "json_response",
    "page_of",
    "plain_list",
    "prefix_of",
    "raw_json_body",
    "refuse_unstorable_parameters",
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


def base_url_of(request: AnyRequest) -> str:
    """Where clients reach this server: `[server] public_url`, else the request's Host."""
    configured: str = runtime_of(request).settings.server.public_url
    if configured:
        return configured.rstrip("/")
    return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"


def prefix_of(request: AnyRequest) -> str:
    """`/v1` or `/preview`: answers point back into the version that was called."""
    return "/preview" if request.url.path.startswith("/preview") else "/v1"


def page_of(
    request: AnyRequest,
    query: Mapping[str, str],
    errors: list[FieldError],
    filters: Collection[str] = (),
) -> Page:
    """The page a list request asks for, its tokens bound to the caller and this list;
    a query parameter that is neither paging nor one of `filters` is a problem."""
    scope = account_of(request) + " " + request.url.path.removeprefix(prefix_of(request))
    return parse_page(query, errors, PageTokens(runtime_of(request).page_key, scope), filters)


def require_json(request: AnyRequest) -> None:
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        raise ApiError(415)


async def raw_json_body(request: AnyRequest) -> bytes:
    require_json(request)
    return await request.body()


UNSTORABLE = "must not hold a NUL character (\\u0000) or a lone surrogate"
_NUL_ESCAPE = b"\\u0000"


def decode_json(body: bytes) -> tuple[Any, list[FieldError]]:
    """A request body's JSON, and its problems: not JSON, nested too deeply, or holding
    strings the database cannot store (domain/storable.py), each named by its path
    (`to[3].variables.name`), keys as well as values. With problems, the value is None
    or holds the unstorable strings: it is for finding more problems, not for storing."""
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError as error:
        return None, [FieldError("body", f"is not valid JSON: {error}")]
    except RecursionError:
        return None, [FieldError("body", "is nested too deeply")]
    # JSON holds a NUL only as the escape \u0000 (msgspec refuses a raw one, and any lone
    # surrogate): without it there is nothing to walk, and searching the bytes of a
    # 10,000-recipient body costs a few milliseconds where walking it costs hundreds
    if _NUL_ESCAPE not in body:
        return value, []
    return value, [FieldError(path, UNSTORABLE) for path in unstorable_paths(value)]


async def json_body(request: AnyRequest) -> dict[str, Any]:
    """The body as a JSON object, or a 415/400 error."""
    body = await raw_json_body(request)
    value, problems = decode_json(body) if body else ({}, [])
    if problems:
        raise invalid(problems)
    if not isinstance(value, dict):
        raise invalid([FieldError("body", "must be a JSON object")])
    return value


async def refuse_unstorable_parameters(request: AnyRequest) -> None:
    """Run before every handler: a path parameter the database cannot store names
    nothing that exists (404), and never reaches it. (Query parameters are each checked
    against their own form: an id, an enum, a date-time, a signed page token.)"""
    values = request.path_params.values()
    if not all(is_storable(value) for value in values if isinstance(value, str)):
        raise ApiError(404)


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
