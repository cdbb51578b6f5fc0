"""Cancel endpoints: `POST /v1/Messages/Operations/{id}/Cancel` and `POST /v1/Messages/{id}/Cancel`.

200 with the operation (or Message) once canceled, as read in the transaction that
canceled it (nothing can fail between the change and its answer); 409 when it is too
late (the operation COMPLETED, the Message already handed to a channel); 404 for an id
of another account.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.params import FromPath

from opencomms.api.common import account_of, json_response, prefix_of, runtime_of
from opencomms.api.errors import conflict, not_found
from opencomms.api.pruned import missing_message, missing_operation
from opencomms.api.wire import message_json, operation_json
from opencomms.domain.ids import MESSAGE_ID_RE, OPERATION_ID_RE
from opencomms.engine.cancel import CancelOutcome, cancel_message, cancel_operation
from opencomms.store import messages, operations
from opencomms.store.database import Conn
from opencomms.store.records import MessageRecord, OperationRecord

__all__ = ["cancel_one_message", "cancel_whole_operation"]

AnyRequest = Request[Any, Any, Any]


@post("/Messages/Operations/{operation_id:str}/Cancel", status_code=200)
async def cancel_whole_operation(
    request: AnyRequest, operation_id: FromPath[str]
) -> Response[bytes]:
    if not OPERATION_ID_RE.match(operation_id):
        raise not_found("Operation", operation_id)
    account = account_of(request)

    async def cancel(conn: Conn) -> tuple[CancelOutcome, OperationRecord | None]:
        outcome = await cancel_operation(conn, account, operation_id)
        if outcome is not CancelOutcome.CANCELED:
            return outcome, None
        return outcome, await operations.get_operation(conn, account, operation_id)

    outcome, operation = await runtime_of(request).db.write(cancel)
    if outcome is CancelOutcome.TOO_LATE:
        raise conflict(f"Operation {operation_id} is COMPLETED; there is nothing left to cancel.")
    if operation is None:
        raise await missing_operation(request, account, operation_id)
    return json_response(operation_json(operation))


@post("/Messages/{message_id:str}/Cancel", status_code=200)
async def cancel_one_message(request: AnyRequest, message_id: FromPath[str]) -> Response[bytes]:
    if not MESSAGE_ID_RE.match(message_id):
        raise not_found("Message", message_id)
    account = account_of(request)

    async def cancel(conn: Conn) -> tuple[CancelOutcome, MessageRecord | None]:
        outcome = await cancel_message(conn, account, message_id)
        if outcome is not CancelOutcome.CANCELED:
            return outcome, None
        return outcome, await messages.get_message(conn, account, message_id)

    outcome, message = await runtime_of(request).db.write(cancel)
    if outcome is CancelOutcome.TOO_LATE:
        raise conflict(f"Message {message_id} was already handed to a channel.")
    if message is None:
        raise await missing_message(request, account, message_id)
    return json_response(message_json(message, prefix_of(request)))
