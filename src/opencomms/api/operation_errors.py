"""`GET /v1/Messages/Operations/{id}/Errors`: what went wrong in an operation, by code.

One entry per error code: `{code, message, infoUrl, count, samples}`, `samples` being up
to 3 of its failures (`messageId`, or `null` with `recipientIndex` for a recipient that
never became a Message, `to`, `message`). Failures are the Messages that settled FAILED
or UNDELIVERED and the unaddressable recipients; a Message that failed on one channel
and was delivered on the next is not one. Codes ascend; pages are keyset on the code.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath

from opencomms.api.common import account_of, json_response, page_of, runtime_of
from opencomms.api.errors import FieldError, invalid, not_found
from opencomms.api.paging import page_envelope
from opencomms.api.pruned import missing_operation
from opencomms.api.wire import error_json
from opencomms.domain.ids import OPERATION_ID_RE
from opencomms.store import operations
from opencomms.store.database import Conn
from opencomms.store.operation_errors import ErrorSample, error_counts, error_samples

__all__ = ["list_operation_errors"]

AnyRequest = Request[Any, Any, Any]
SAMPLES = 3
ErrorGroup = tuple[int, int, list[ErrorSample]]


def _to(recipient: Any) -> list[dict[str, str]]:
    """A Message's `to`, or an unaddressable recipient's addresses in the same shape."""
    if isinstance(recipient, dict):
        return [{"address": a, "channel": c} for a, c in recipient.get("addresses", [])]
    return [{"address": a["address"], "channel": a["channel"]} for a in recipient]


def _group_json(group: ErrorGroup) -> dict[str, Any]:
    code, count, samples = group
    first = samples[0].error_message if samples else ""
    return {
        **error_json(code, first),
        "count": count,
        "samples": [
            {
                "messageId": sample.message_id,
                "recipientIndex": sample.recipient_index,
                "to": _to(sample.recipient),
                "message": sample.error_message,
            }
            for sample in samples
        ],
    }


async def _groups(
    conn: Conn, account: str, operation_id: str, after: int | None, limit: int
) -> list[ErrorGroup] | None:
    """The page's groups, or None if the account has no such operation."""
    if await operations.get_operation(conn, account, operation_id) is None:
        return None
    counts = await error_counts(conn, operation_id, after, limit)
    return [
        (code, count, await error_samples(conn, operation_id, code, SAMPLES))
        for code, count in counts
    ]


@get("/Messages/Operations/{operation_id:str}/Errors")
async def list_operation_errors(
    request: AnyRequest, operation_id: FromPath[str]
) -> Response[bytes]:
    errors: list[FieldError] = []
    page = page_of(request, dict(request.query_params), errors)
    if errors:
        raise invalid(errors)
    if not OPERATION_ID_RE.match(operation_id):
        raise not_found("Operation", operation_id)
    account = account_of(request)
    after = int(page.before) if page.before.isdigit() else None
    groups = await runtime_of(request).db.read(
        lambda conn: _groups(conn, account, operation_id, after, page.size + 1)
    )
    if groups is None:
        raise await missing_operation(request, account, operation_id)
    return json_response(
        page_envelope("errors", groups, page, _group_json, lambda group: str(group[0]))
    )
