"""Finding Messages: `GET /v1/Messages` (filters in the query), `POST
/v1/Messages/Search` (the same filters in a JSON body, as Twilio's Search Messages takes
them) and `GET /v1/Messages/Seek/{attemptId}` (301 to the Message of an attempt id)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath

from opencomms.api.common import (
    account_of,
    json_body,
    json_response,
    page_of,
    prefix_of,
    runtime_of,
)
from opencomms.api.errors import FieldError, field_path, invalid, not_found
from opencomms.api.filters import date_bounds, enum_filter
from opencomms.api.paging import PAGING_PARAMETERS, page_envelope
from opencomms.api.send_request import MAX_TAGS, TAG_PATTERN
from opencomms.api.wire import message_json
from opencomms.domain.channels import SenderChannel
from opencomms.domain.ids import OPERATION_ID_RE
from opencomms.domain.statuses import MessageStatus
from opencomms.domain.storable import is_storable
from opencomms.store import messages
from opencomms.store.messages import MessageFilters

__all__ = ["MESSAGE_FILTERS", "list_messages", "search_messages", "seek_message"]

AnyRequest = Request[Any, Any, Any]
MESSAGE_FILTERS = (
    "operationId",
    "operation_id",
    "status",
    "channel",
    "tags",
    "startDate",
    "endDate",
    "address",
)
# Twilio's attempt ids: SM (or MM, with media) and 32 hex digits
ATTEMPT_ID_RE = re.compile(r"[SM]M[0-9a-f]{32}\Z")
_NOT_IN_QUERY = "is not a query parameter of a search: filters go in the body"
_TAGS_PROBLEM = "must be key:value pairs of [a-zA-Z0-9._~-] joined by ';'"


def _tags_filter(text: str | None, errors: list[FieldError]) -> tuple[tuple[str, str], ...]:
    """`k:v;k2:v2;`: 1 to 10 pairs, each key and value of the tags' own characters."""
    if not text:
        return ()
    pairs = []
    for part in text.removesuffix(";").split(";"):
        key, sep, value = part.partition(":")
        if not sep or not TAG_PATTERN.match(key) or not TAG_PATTERN.match(value):
            errors.append(FieldError("tags", _TAGS_PROBLEM))
            return ()
        pairs.append((key, value))
    if len(pairs) > MAX_TAGS:
        errors.append(FieldError("tags", f"must have at most {MAX_TAGS} pairs"))
        return ()
    return tuple(pairs)


def _filters(values: Mapping[str, str], before: str, errors: list[FieldError]) -> MessageFilters:
    """The filters of a Message list, from the query's (or the search body's) strings."""
    operation_id = values.get("operationId", values.get("operation_id"))
    if operation_id is not None and not OPERATION_ID_RE.match(operation_id):
        errors.append(FieldError("operationId", "is not an operation id"))
    status = enum_filter(dict(values), "status", {s.value for s in MessageStatus}, errors)
    channel = enum_filter(dict(values), "channel", {c.value for c in SenderChannel}, errors)
    since, until = date_bounds(dict(values), "comms_message_", errors)
    address = values.get("address")
    if address is not None and (not 1 <= len(address) <= 320 or not is_storable(address)):
        errors.append(FieldError("address", "must be 1 to 320 characters, without NUL"))
    return MessageFilters(
        before=min(before, until),
        since=since,
        operation_id=operation_id,
        status=status,
        channel=channel,
        tags=_tags_filter(values.get("tags"), errors),
        address=address or None,
    )


async def _listed(
    request: AnyRequest, values: dict[str, str], errors: list[FieldError]
) -> Response[bytes]:
    """The page of Messages `values` (filters and paging) ask for; with `errors` found
    before and every other problem, a 400."""
    page = page_of(request, values, errors, MESSAGE_FILTERS)
    filters = _filters(values, page.before, errors)
    if errors:
        raise invalid(errors)
    account = account_of(request)
    rows = await runtime_of(request).db.read(
        lambda conn: messages.list_messages(conn, account, filters, page.size + 1)
    )
    prefix = prefix_of(request)
    return json_response(page_envelope("messages", rows, page, lambda m: message_json(m, prefix)))


@get("/Messages")
async def list_messages(request: AnyRequest) -> Response[bytes]:
    return await _listed(request, dict(request.query_params), [])


def _search_values(body: dict[str, Any], errors: list[FieldError]) -> dict[str, str]:
    """The body's filters as the query's strings (`tags` as `k:v;`)."""
    values: dict[str, str] = {}
    for name, value in body.items():
        if name == "tags" and isinstance(value, dict):
            if not all(isinstance(v, str) for v in value.values()):
                errors.append(FieldError("tags", "must map keys to string values"))
            else:
                values["tags"] = ";".join(f"{k}:{v}" for k, v in value.items())
        elif name in PAGING_PARAMETERS:
            errors.append(FieldError(name, "goes in the query string, not the body"))
        elif value is not None and not isinstance(value, str):
            errors.append(FieldError(field_path("", name), "must be a string"))
        elif value is not None:
            values[name] = value
    return values


@post("/Messages/Search", status_code=200)
async def search_messages(request: AnyRequest) -> Response[bytes]:
    """Twilio's Search Messages: the filters in the body, `pageSize`/`pageToken` in the
    query. A page token carries the body's filters: the next page needs the same body."""
    errors: list[FieldError] = []
    values = _search_values(await json_body(request), errors)
    query = request.query_params
    errors += [
        FieldError(field_path("", k), _NOT_IN_QUERY) for k in query if k not in PAGING_PARAMETERS
    ]
    paging = {k: v for k, v in query.items() if k in PAGING_PARAMETERS}
    return await _listed(request, {**values, **paging}, errors)


@get("/Messages/Seek/{attempt_id:str}", status_code=301)
async def seek_message(request: AnyRequest, attempt_id: FromPath[str]) -> Response[bytes]:
    """301 to the Message an attempt id (`SM…`/`MM…`, as events and receipts name it)
    belongs to."""
    account = account_of(request)
    message_id = (
        await runtime_of(request).db.read(
            lambda conn: messages.message_of_attempt(conn, account, attempt_id)
        )
        if ATTEMPT_ID_RE.match(attempt_id)
        else None
    )
    if message_id is None:
        raise not_found("Message with attempt", attempt_id)
    location = f"{prefix_of(request)}/Messages/{message_id}"
    return Response(b"", status_code=301, headers={"Location": location})
