"""`/v1/SenderPools/Operations`: Twilio's record of each pool create and add of senders.

Twilio answers those writes 202 with an operation to poll; opencomms changes the pool in
the request's transaction, so the operation it answers with is already COMPLETED, with
`stats {total, queued, created, failed}` (SenderPoolOperationStats)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath

from opencomms.api.common import (
    account_of,
    base_url_of,
    json_response,
    plain_list,
    prefix_of,
    runtime_of,
)
from opencomms.api.errors import not_found
from opencomms.domain.clock import iso
from opencomms.domain.ids import OPERATION_ID_RE, new_operation_id
from opencomms.store.sender_pool_operations import (
    PoolOperationRecord,
    get_pool_operation,
    list_pool_operations,
)

__all__ = [
    "accepted",
    "completed_operation",
    "fetch_pool_operation",
    "list_pool_operations_route",
    "pool_operation_json",
]

AnyRequest = Request[Any, Any, Any]


def completed_operation(account: str, pool_id: str, added: int, now: int) -> PoolOperationRecord:
    """The record of a pool write that added `added` senders."""
    return PoolOperationRecord(
        new_operation_id(), account, pool_id, "COMPLETED", added, 0, added, 0, now, now
    )


def pool_operation_json(operation: PoolOperationRecord) -> dict[str, Any]:
    return {
        "id": operation.id,
        "status": operation.status,
        "stats": {
            "total": operation.total,
            "queued": operation.queued,
            "created": operation.created,
            "failed": operation.failed,
        },
        "createdAt": iso(operation.created_at),
        "updatedAt": iso(operation.updated_at),
    }


def accepted(
    request: AnyRequest, operation: PoolOperationRecord, pool: dict[str, Any]
) -> Response[bytes]:
    """The 202 of a pool write: Twilio's `{operationId, operationLocation}` with the
    operation's headers, and the pool itself beside them (what the 201/200 used to be)."""
    path = f"{prefix_of(request)}/SenderPools/Operations/{operation.id}"
    body = {"operationId": operation.id, "operationLocation": base_url_of(request) + path}
    headers = {
        "operationId": operation.id,
        "operation-id": operation.id,
        "Operation-Location": path,
        "Location": path,
    }
    return json_response({**pool, **body}, status=202, headers=headers)


@get("/SenderPools/Operations")
async def list_pool_operations_route(request: AnyRequest) -> Response[bytes]:
    return await plain_list(
        request,
        "operations",
        list_pool_operations,
        pool_operation_json,
    )


@get("/SenderPools/Operations/{operation_id:str}")
async def fetch_pool_operation(request: AnyRequest, operation_id: FromPath[str]) -> Response[bytes]:
    if not OPERATION_ID_RE.match(operation_id):
        raise not_found("SenderPool Operation", operation_id)
    account = account_of(request)
    found = await runtime_of(request).db.read(
        lambda conn: get_pool_operation(conn, account, operation_id)
    )
    if found is None:
        raise not_found("SenderPool Operation", operation_id)
    return json_response(pool_operation_json(found))
