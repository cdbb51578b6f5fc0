"""What Twilio's REST APIs share on the wire, for the resources served in Twilio's own
dialect (the Event Streams API under `/events/v1`): form-encoded request bodies with
PascalCase parameters, date-times in whole seconds, and lists with a `meta` of page
URLs, as twilio-python builds and reads them."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from litestar import Request

from opencomms.api.common import UNSTORABLE, account_of, base_url_of, page_of, runtime_of
from opencomms.api.errors import ApiError, FieldError, invalid
from opencomms.api.paging import Page
from opencomms.domain.clock import rfc3339
from opencomms.domain.storable import is_storable
from opencomms.store.database import Conn

__all__ = [
    "EVENTS_PREFIX",
    "Form",
    "events_base",
    "form_body",
    "twilio_date",
    "twilio_list",
]

AnyRequest = Request[Any, Any, Any]
T = TypeVar("T")
EVENTS_PREFIX = "/events/v1"
FORM = "application/x-www-form-urlencoded"
_PAGE_NUMBER = re.compile(r"[0-9]{1,9}")

Form = dict[str, list[str]]


def twilio_date(ms: int) -> str:
    """Twilio's form of a date-time: whole seconds, `Z`."""
    return rfc3339(ms - ms % 1000).replace(".000Z", "Z")


def events_base(request: AnyRequest) -> str:
    """The URL of `/events/v1` on this server, as its resources link to themselves."""
    return base_url_of(request) + EVENTS_PREFIX


async def form_body(request: AnyRequest, known: Collection[str]) -> Form:
    """The form-encoded body, each parameter with all its values (Twilio repeats a
    parameter for a list); an empty body is an empty form. A body of another type is a
    415; a parameter not in `known` is a 400 naming it."""
    raw = await request.body()
    if not raw:
        return {}
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != FORM:
        raise ApiError(415, f"this API takes {FORM} bodies, as Twilio's does")
    form = await request.form()
    values = {name: [str(v) for v in form.getall(name)] for name in form}
    problems = [
        FieldError(name, "is not a parameter of this call") for name in values if name not in known
    ]
    problems += [
        FieldError(name, UNSTORABLE)
        for name, listed in values.items()
        if name in known and not all(is_storable(value) for value in listed)
    ]
    if problems:
        raise invalid(problems)
    return values


def _page_url(base: str, size: int, number: int, token: str | None, query: dict[str, str]) -> str:
    params: dict[str, Any] = {**query, "PageSize": size, "Page": number}
    if token:
        params["PageToken"] = token
    return f"{base}?{urlencode(params)}"


async def twilio_list(
    request: AnyRequest,
    key: str,
    filters: dict[str, str],
    fetch: Callable[[Conn, str, Page], Awaitable[Sequence[T]]],
    render: Callable[[T], dict[str, Any]],
    position: Callable[[T], str],
    problems: Sequence[FieldError] = (),
) -> dict[str, Any]:
    """One page of a list in Twilio's shape, `{key: [...], "meta": {...}}`, newest first.

    `filters`: the list's filter parameters as the request gave them (already checked);
    `fetch(conn, account, page)` gives up to `page.size + 1` rows below `page.before`;
    `position(row)` is where the next page starts. `Page` (the page number) is only
    echoed: the place is in the opaque `PageToken`. `problems`: those the caller found
    in its filters, answered in one 400 with any unknown parameter, each named.
    """
    query = request.query_params
    errors: list[FieldError] = list(problems)
    # `Page` changes from page to page: it is not one of the filters a token is bound to
    paging = {name: value for name, value in query.items() if name != "Page"}
    page = page_of(request, paging, errors, filters)
    number = query.get("Page", "0")
    if not _PAGE_NUMBER.fullmatch(number):
        errors.append(FieldError("Page", "must be a page number: 0, 1, 2, …"))
    if errors:
        raise invalid(errors)
    account = account_of(request)
    rows = await runtime_of(request).db.read(lambda conn: fetch(conn, account, page))
    shown = rows[: page.size]
    more = len(rows) > page.size and bool(shown)
    next_token = page.tokens.encode(position(shown[-1]), page.filters) if more else None
    base = base_url_of(request) + request.url.path
    current = int(number)
    token = query.get("PageToken")
    meta = {
        "page": current,
        "page_size": page.size,
        "first_page_url": _page_url(base, page.size, 0, None, filters),
        "previous_page_url": None,  # keyset pages go forward only
        "url": _page_url(base, page.size, current, token, filters),
        "next_page_url": (
            _page_url(base, page.size, current + 1, next_token, filters) if more else None
        ),
        "key": key,
    }
    return {key: [render(row) for row in shown], "meta": meta}
