"""`/v1/Senders`: the addresses an account sends from, each carried by a connector."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import HttpMethod, Request, Response, delete, get, post, route
from litestar.params import FromPath

from opencomms.api.common import account_of, json_body, json_response, page_of, runtime_of
from opencomms.api.errors import (
    ApiError,
    FieldError,
    field_path,
    invalid,
    not_found,
    unknown_fields,
)
from opencomms.api.filters import enum_filter
from opencomms.api.paging import page_envelope
from opencomms.api.send_request import TAG_PATTERN
from opencomms.api.wire import sender_json
from opencomms.domain.channels import SenderChannel
from opencomms.domain.clock import now_ms
from opencomms.domain.durations import parse_duration_ms
from opencomms.domain.ids import SENDER_ID_RE, new_sender_id
from opencomms.domain.sender_addresses import CONTROL, sender_address_problem
from opencomms.store import senders
from opencomms.store.records import SenderRecord
from opencomms.store.senders import Registration

__all__ = ["create_sender", "delete_sender", "fetch_sender", "list_senders", "update_sender"]

AnyRequest = Request[Any, Any, Any]
STATUSES = {"ACTIVATED", "DEACTIVATED"}
MUTABLE = {"status", "tags", "connector", "fallbackTimeout", "receiptWait", "displayName"}
CHANNELS = frozenset(channel.value for channel in SenderChannel)
MAX_DURATION_MS = 30 * 86_400_000  # 30 days: a fallback timeout or receipt wait longer is a typo


def check_tags(value: Any, errors: list[FieldError]) -> dict[str, str]:
    if not isinstance(value, dict) or len(value) > 10:
        errors.append(FieldError("tags", "must be an object of at most 10 pairs"))
        return {}
    for key, item in value.items():
        path = field_path("tags", key)
        if not TAG_PATTERN.match(key) or len(key) > 128:
            errors.append(FieldError(path, "key must be 1-128 characters of [a-zA-Z0-9._~-]"))
        elif not isinstance(item, str) or len(item) > 256 or not TAG_PATTERN.match(item):
            errors.append(FieldError(path, "value must be 1-256 characters of [a-zA-Z0-9._~-]"))
    return value


def _display_name(value: Any, errors: list[FieldError]) -> str | None:
    """A sender's `displayName`: 1 to 256 characters without control characters, or null."""
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= 256 or CONTROL.search(value):
        errors.append(FieldError("displayName", "must be null or 1 to 256 characters"))
        return None
    return value


def _connector(request: AnyRequest, name: Any, base: SenderRecord, errors: list[FieldError]) -> str:
    """The connector `name`, if it is configured and carries the sender's channel."""
    connector = runtime_of(request).connectors.get(name) if isinstance(name, str) else None
    if connector is None:
        errors.append(FieldError("connector", "no connector with this name is configured"))
    elif base.channel in CHANNELS and base.channel not in connector.channels:
        errors.append(FieldError("connector", f"does not carry {base.channel}"))
    else:
        return str(name)
    return base.connector


def _changes(
    request: AnyRequest, body: dict[str, Any], base: SenderRecord, errors: list[FieldError]
) -> SenderRecord:
    """`base` with the mutable fields of `body` applied; problems go to `errors`."""
    changes: dict[str, Any] = {}
    if "status" in body:
        status = body["status"]
        if not isinstance(status, str) or status.upper() not in STATUSES:
            errors.append(FieldError("status", "must be ACTIVATED or DEACTIVATED"))
        else:
            changes["status"] = status.upper()
    if "tags" in body:
        changes["tags"] = check_tags(body["tags"], errors)
    if "displayName" in body:
        changes["display_name"] = _display_name(body["displayName"], errors)
    if "connector" in body:
        changes["connector"] = _connector(request, body["connector"], base, errors)
    for field, column in (
        ("fallbackTimeout", "fallback_timeout_ms"),
        ("receiptWait", "receipt_wait_ms"),
    ):
        if field in body:
            ms = parse_duration_ms(body[field]) if isinstance(body[field], str) else None
            if ms is None or ms > MAX_DURATION_MS:
                errors.append(
                    FieldError(field, "must be a duration up to '30d', such as '500ms', '60s'")
                )
            else:
                changes[column] = ms
    return msgspec.structs.replace(base, **changes)


@post("/Senders", status_code=201)
async def create_sender(request: AnyRequest) -> Response[bytes]:
    body = await json_body(request)
    errors = unknown_fields(body, MUTABLE | {"address", "channel"})
    address, channel = body.get("address"), body.get("channel")
    if not isinstance(channel, str) or channel.upper() not in CHANNELS:
        errors.append(FieldError("channel", "must be one of SMS, RCS, WHATSAPP, EMAIL"))
    if not isinstance(address, str) or not address:
        errors.append(FieldError("address", "is required"))
    elif isinstance(channel, str) and channel.upper() in CHANNELS:
        problem = sender_address_problem(address, channel.upper())
        if problem is not None:
            errors.append(FieldError("address", problem))
    runtime = runtime_of(request)
    now = now_ms()
    connector = body.get("connector")
    fallback, receipt = runtime.settings.sender_durations(
        connector if isinstance(connector, str) else "simulator"
    )  # the connector's defaults
    base = SenderRecord(
        id=new_sender_id(),
        account_sid=account_of(request),
        address=address if isinstance(address, str) else "",
        channel=channel.upper() if isinstance(channel, str) else "",
        connector="simulator",
        status="ACTIVATED",
        tags={},
        fallback_timeout_ms=parse_duration_ms(fallback) or 0,
        receipt_wait_ms=parse_duration_ms(receipt) or 0,
        created_at=now,
        updated_at=now,
    )
    sender = _changes(request, body, base, errors)
    if errors:
        raise invalid(errors)
    registered = await runtime.db.write(lambda conn: senders.register_sender(conn, sender))
    if registered is Registration.EXISTS:
        raise ApiError(409, f"A {sender.channel} sender with address {sender.address} exists.")
    if registered is Registration.TAKEN:
        raise _taken(sender)
    return json_response(sender_json(sender), status=201)


def _taken(sender: SenderRecord) -> ApiError:
    return ApiError(
        409,
        f"The address {sender.address} belongs to another account on connector {sender.connector}.",
    )


@get("/Senders")
async def list_senders(request: AnyRequest) -> Response[bytes]:
    query = dict(request.query_params)
    errors: list[FieldError] = []
    page = page_of(request, query, errors, ("status", "channel"))
    status = enum_filter(query, "status", STATUSES, errors)
    channel = enum_filter(query, "channel", set(CHANNELS), errors)
    if errors:
        raise invalid(errors)
    account = account_of(request)
    rows = await runtime_of(request).db.read(
        lambda conn: senders.list_senders(
            conn, account, after=page.before, limit=page.size + 1, status=status, channel=channel
        )
    )
    return json_response(page_envelope("senders", rows, page, sender_json))


async def _load(request: AnyRequest, sender_id: FromPath[str]) -> SenderRecord:
    if not SENDER_ID_RE.fullmatch(sender_id):
        raise not_found("Sender", sender_id)
    account = account_of(request)
    sender = await runtime_of(request).db.read(
        lambda conn: senders.get_sender(conn, account, sender_id)
    )
    if sender is None:
        raise not_found("Sender", sender_id)
    return sender


@get("/Senders/{sender_id:str}")
async def fetch_sender(request: AnyRequest, sender_id: FromPath[str]) -> Response[bytes]:
    return json_response(sender_json(await _load(request, sender_id)))


@route("/Senders/{sender_id:str}", http_method=[HttpMethod.POST, HttpMethod.PATCH], status_code=200)
async def update_sender(request: AnyRequest, sender_id: FromPath[str]) -> Response[bytes]:
    body = await json_body(request)
    current = await _load(request, sender_id)
    fixed = {"address", "channel"}
    errors = unknown_fields(body.keys() & fixed, MUTABLE, message="cannot be changed")
    errors += unknown_fields(body.keys() - fixed, MUTABLE)
    sender = _changes(request, body, current, errors)
    if errors:
        raise invalid(errors)
    sender = msgspec.structs.replace(sender, updated_at=now_ms())
    if not await runtime_of(request).db.write(
        lambda conn: senders.change_sender(conn, sender, current.connector)
    ):
        raise _taken(sender)
    return json_response(sender_json(sender))


@delete("/Senders/{sender_id:str}", status_code=204)
async def delete_sender(request: AnyRequest, sender_id: FromPath[str]) -> None:
    if not SENDER_ID_RE.fullmatch(sender_id):
        raise not_found("Sender", sender_id)
    account = account_of(request)
    if not await runtime_of(request).db.write(
        lambda conn: senders.delete_sender(conn, account, sender_id)
    ):
        raise not_found("Sender", sender_id)
