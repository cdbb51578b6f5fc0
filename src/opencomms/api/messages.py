"""`/v1/Messages`: send (202 + operation), fetch with attempts (the list: message_list.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath

from opencomms.api import idempotency
from opencomms.api.admission import admission_of
from opencomms.api.callback_sinks import callback_url_problems, link_callback_sink
from opencomms.api.common import (
    account_of,
    base_url_of,
    json_response,
    prefix_of,
    raw_json_body,
    runtime_of,
)
from opencomms.api.content import template_content
from opencomms.api.errors import FieldError, invalid, not_found
from opencomms.api.idempotency import Answer
from opencomms.api.pruned import missing_message
from opencomms.api.send_request import SendRequest, parse_send_request
from opencomms.api.wire import attempt_json, message_json, operation_path
from opencomms.domain.clock import now_ms
from opencomms.domain.ids import MESSAGE_ID_RE, new_operation_id
from opencomms.domain.local_time import window_ms
from opencomms.domain.statuses import OperationStatus
from opencomms.metrics.instruments import MESSAGES_ACCEPTED
from opencomms.settings import Settings
from opencomms.store import messages, operations, senders
from opencomms.store.database import Conn
from opencomms.store.idempotency import Claim

if TYPE_CHECKING:
    from opencomms.engine.runtime import Runtime

__all__ = ["fetch_message", "send_messages"]

AnyRequest = Request[Any, Any, Any]
PARSE_ON_LOOP_BYTES = 64 * 1024  # a larger body is checked in a thread
MESSAGE_FILTERS = (
    "operationId",
    "operation_id",
    "status",
    "channel",
    "tags",
    "startDate",
    "endDate",
)


async def _resolve_senders(
    conn: Conn, account: str, sender: dict[str, str] | None
) -> list[str] | FieldError:
    """The ordered sender ids the operation may use, or the problem with `from`."""
    if sender is None:
        pool = await senders.default_pool(conn, account)
        if pool is None:
            return FieldError("from", "the account has no default sender pool; give from")
        return pool.sender_ids
    if "senderPoolId" in sender:
        pool = await senders.get_pool(conn, account, sender["senderPoolId"])
        if pool is None:
            return FieldError("from.senderPoolId", "no sender pool with this id")
        return pool.sender_ids
    if "senderId" in sender:
        field = "from.senderId"
        found = await senders.get_sender(conn, account, sender["senderId"])
        if found is None:
            return FieldError(field, "no sender with this id")
    else:
        field = "from.address"
        found = await senders.find_sender_by_address(
            conn, account, sender["address"], sender["channel"]
        )
        if found is None:
            return FieldError(field, "no sender with this address on this channel")
    if not await senders.get_sendable_senders(conn, [found.id]):
        return FieldError(field, "the sender's address belongs to another account")
    return [found.id]


@post("/Messages", status_code=202)
async def send_messages(request: AnyRequest) -> Response[bytes]:
    """Accept one message to up to 10,000 recipients: 202 once it is durably stored."""
    body = await raw_json_body(request)
    claim = await idempotency.claim(request, body)
    if isinstance(claim, Response):
        return claim  # the first answer to this Idempotency-Key and body, again
    try:
        return await _send(request, body, claim)
    except BaseException:
        # only an accepted request consumes its key: a refused or failed one gives it back
        await idempotency.release(request, claim)
        raise


async def _parsed(body: bytes, settings: Settings) -> tuple[SendRequest, list[FieldError]]:
    """The body checked; a large one in a thread, so that the event loop keeps serving
    other requests meanwhile (10,000 recipients and their templates take a while)."""
    check = partial(parse_send_request, body, settings.input, templates=settings.templates.limits)
    if len(body) <= PARSE_ON_LOOP_BYTES:
        return check()
    return await asyncio.to_thread(check)


async def _send(request: AnyRequest, body: bytes, claim: Claim | None) -> Response[bytes]:
    runtime = runtime_of(request)
    account = account_of(request)
    admission = admission_of(request)
    await admission.admit(runtime.db, account)  # a 429 while the backlog is over its bound
    send, problems = await _parsed(body, runtime.settings)
    # the checks that need the database or the network join the body's problems, so
    # that one 400 lists them all
    resolved: list[str] | FieldError = []
    if not any(p.field == "body" or p.field.startswith("from") for p in problems):
        resolved = await runtime.db.read(lambda conn: _resolve_senders(conn, account, send.sender))
    if isinstance(resolved, FieldError):
        problems.append(resolved)
    if "contentId" in send.content and not any(p.field.startswith("content") for p in problems):
        problems += await _from_template(runtime, account, send, resolved)
    if send.callbacks is not None and not any(p.field.startswith("callbacks") for p in problems):
        problems += await callback_url_problems(request, account, send.callbacks["url"])
    if problems or isinstance(resolved, FieldError):
        raise invalid(problems)
    answer = partial(_answer, prefix_of(request), base_url_of(request))
    record = idempotency.record_step(claim, answer)
    due_now = send.send_at is None and send.send_at_local is None  # a scheduled one waits
    if due_now:  # a flood of small sends is taken at the rate it drains
        await admission.pace(runtime.db, account, len(send.recipients))
    operation_id = await _accept(
        runtime.db.write, account, send, resolved, record, runtime.settings.sinks.max_per_account
    )
    if due_now:
        admission.accepted(account, len(send.recipients))
    runtime.fanout_ready(len(send.recipients))
    MESSAGES_ACCEPTED.inc(len(send.recipients))
    return answer(operation_id).response()


async def _from_template(
    runtime: Runtime, account: str, send: SendRequest, resolved: list[str] | FieldError
) -> list[FieldError]:
    """`content.contentId` made into the send's channel modules (in `send.content`), or
    the problem with it. `resolved`: the send's senders, whose channels that reach its
    recipients it must cover."""
    sender_ids = resolved if isinstance(resolved, list) else []
    reached = {address[1] for recipient in send.recipients for address in recipient["addresses"]}
    made = await runtime.db.read(
        lambda conn: template_content(
            conn, account, send.content, sender_ids, reached, runtime.settings
        )
    )
    if isinstance(made, FieldError):
        return [made]
    send.content = made
    return []


def _answer(prefix: str, base_url: str, operation_id: str) -> Answer:
    """The 202, with the operation in the body and in every header name Twilio's Comms
    API has used: `operationId`, `operation-id` and `X-Twilio-Operation-Id`;
    `Operation-Location` and `Location`; `resource-location` and
    `X-Twilio-Resource-Location`, where the Messages it makes are listed."""
    path = operation_path(prefix, operation_id)
    listed = f"{prefix}/Messages?operationId={operation_id}"
    return Answer.json(
        202,
        {"operationId": operation_id, "operationLocation": base_url + path},
        {
            "operationId": operation_id,
            "operation-id": operation_id,
            "X-Twilio-Operation-Id": operation_id,
            "Operation-Location": path,
            "Location": path,
            "resource-location": listed,
            "X-Twilio-Resource-Location": listed,
        },
    )


async def _accept(
    write: Any,
    account: str,
    send: SendRequest,
    sender_ids: list[str],
    then: Callable[[Conn, str], Awaitable[None]] | None,
    max_sinks: int,
) -> str:
    """Store the operation; `then(conn, operation_id)`, if given, runs in the same
    transaction (the Idempotency-Key's answer is recorded there). `max_sinks`: the
    account's limit, should `callbacks.url` need a new sink."""
    operation_id = new_operation_id()
    now = now_ms()
    send_at = send.send_at
    if send.send_at_local is not None:  # the operation starts when the first one is due
        first, last = window_ms(datetime.fromisoformat(send.send_at_local))
        send_at = max(first, now) if last > now else None
    scheduled = send_at is not None and send_at > now
    spec = {
        "content": send.content,
        "tags": send.tags,
        "senders": sender_ids,
        "callbacks": send.callbacks,
        "sendAtLocal": send.send_at_local,
        "senderPoolId": (send.sender or {}).get("senderPoolId"),
    }
    recipients = msgspec.json.encode(send.recipients)

    async def store(conn: Conn) -> None:
        if send.callbacks is not None:  # first: the operation's first event goes there
            await link_callback_sink(
                conn, account, operation_id, send.callbacks["url"], now=now, limit=max_sinks
            )
        await operations.insert_operation(
            conn,
            operation_id=operation_id,
            account_sid=account,
            status=OperationStatus.SCHEDULED if scheduled else OperationStatus.PROCESSING,
            spec=spec,
            recipients=recipients,
            recipient_count=len(send.recipients),
            send_at=send_at if scheduled else None,
            now=now,
        )
        if then is not None:
            await then(conn, operation_id)

    await write(store)
    return operation_id


@get("/Messages/{message_id:str}")
async def fetch_message(request: AnyRequest, message_id: FromPath[str]) -> Response[bytes]:
    if not MESSAGE_ID_RE.match(message_id):
        raise not_found("Message", message_id)
    account = account_of(request)

    async def load(conn: Conn) -> tuple[Any, Any]:
        message = await messages.get_message(conn, account, message_id)
        attempts = await messages.list_attempts(conn, message_id) if message else []
        return message, attempts

    message, attempts = await runtime_of(request).db.read(load)
    if message is None:
        raise await missing_message(request, account, message_id)
    body = message_json(message, prefix_of(request))
    body["content"] = message.content
    body["attempts"] = [attempt_json(attempt, message) for attempt in attempts]
    return json_response(body)
