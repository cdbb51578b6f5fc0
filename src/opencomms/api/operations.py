"""`/v1/Messages/Operations`: an operation's live stats, and the list of operations."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath

from opencomms.api.common import account_of, json_response, page_of, runtime_of
from opencomms.api.errors import FieldError, invalid, not_found
from opencomms.api.filters import date_bounds, enum_filter
from opencomms.api.paging import page_envelope
from opencomms.api.pruned import missing_operation
from opencomms.api.wire import operation_json
from opencomms.domain.ids import OPERATION_ID_RE
from opencomms.domain.statuses import OperationStatus
from opencomms.store import operations

__all__ = ["fetch_operation", "list_operations"]

AnyRequest = Request[Any, Any, Any]
PREFIX = "comms_operation_"
# Above every operation id in any collation: the pager's `~` top is not (PostgreSQL
# compares text with the database's collation, where `~` may sort before letters).
CEILING = PREFIX + "z" * 26


@get("/Messages/Operations")
async def list_operations(request: AnyRequest) -> Response[bytes]:
    query = dict(request.query_params)
    errors: list[FieldError] = []
    page = page_of(request, query, errors, ("status", "startDate", "endDate"))
    status = enum_filter(query, "status", {s.value for s in OperationStatus}, errors)
    since, until = date_bounds(query, PREFIX, errors)
    if errors:
        raise invalid(errors)
    account = account_of(request)
    rows = await runtime_of(request).db.read(
        lambda conn: operations.list_operations(
            conn,
            account,
            before=min(page.before, until, CEILING),
            since=since,
            status=status,
            limit=page.size + 1,
        )
    )
    return json_response(page_envelope("operations", rows, page, operation_json))


@get("/Messages/Operations/{operation_id:str}")
async def fetch_operation(request: AnyRequest, operation_id: FromPath[str]) -> Response[bytes]:
    """Live stats, read from counters: the same cost for 3 recipients or 1,000,000."""
    if not OPERATION_ID_RE.match(operation_id):
        raise not_found("Operation", operation_id)
    account = account_of(request)
    operation = await runtime_of(request).db.read(
        lambda conn: operations.get_operation(conn, account, operation_id)
    )
    if operation is None:
        raise await missing_operation(request, account, operation_id)
    return json_response(operation_json(operation))
