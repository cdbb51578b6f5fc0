"""The 404 of an operation or Message that the retention policy deleted: it says so,
when, and which setting decides, rather than only "not found"."""

from __future__ import annotations

from typing import Any

from litestar import Request

from opencomms.api.common import runtime_of
from opencomms.api.errors import ApiError, not_found
from opencomms.domain.clock import rfc3339
from opencomms.store import retention
from opencomms.store.retention import PrunedOperation

__all__ = ["missing_message", "missing_operation"]

AnyRequest = Request[Any, Any, Any]


def _kept(request: AnyRequest) -> str:
    kept: str = runtime_of(request).settings.retention.operations
    return kept


async def missing_operation(request: AnyRequest, account: str, operation_id: str) -> ApiError:
    pruned = await runtime_of(request).db.read(
        lambda conn: retention.pruned_operation(conn, account, operation_id)
    )
    if pruned is None:
        return not_found("Operation", operation_id)
    return ApiError(
        404,
        f"Operation {operation_id} was deleted on {rfc3339(pruned.pruned_at)}, with its"
        f" Messages: operations are kept {_kept(request)} after they finish"
        " (retention.operations).",
    )


async def missing_message(request: AnyRequest, account: str, message_id: str) -> ApiError:
    pruned: PrunedOperation | None = await runtime_of(request).db.read(
        lambda conn: retention.pruned_with_message(conn, account, message_id)
    )
    if pruned is None:
        return not_found("Message", message_id)
    return ApiError(
        404,
        f"Message {message_id} was deleted on {rfc3339(pruned.pruned_at)} with its operation"
        f" {pruned.id}: Messages are kept {_kept(request)} after their operation finishes"
        " (retention.operations).",
    )
