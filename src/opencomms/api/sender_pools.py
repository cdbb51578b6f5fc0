"""`/v1/SenderPools`: ordered groups of senders; the order is the fallback order."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import HttpMethod, Request, Response, delete, get, post, route
from litestar.params import FromPath

from opencomms.api.common import (
    account_of,
    decode_json,
    json_body,
    json_response,
    page_of,
    plain_list,
    raw_json_body,
    runtime_of,
)
from opencomms.api.errors import FieldError, invalid, not_found, unknown_fields
from opencomms.api.paging import TOP, page_envelope
from opencomms.api.sender_pool_operations import accepted, completed_operation
from opencomms.api.senders import check_tags
from opencomms.api.wire import pool_json, sender_json
from opencomms.domain.clock import now_ms
from opencomms.domain.ids import SENDER_ID_RE, SENDER_POOL_ID_RE, new_sender_pool_id
from opencomms.domain.sender_addresses import CONTROL
from opencomms.store import senders
from opencomms.store.database import Conn
from opencomms.store.records import SenderPoolRecord
from opencomms.store.sender_pool_operations import PoolOperationRecord, insert_pool_operation

__all__ = [
    "add_pool_senders",
    "create_pool",
    "delete_pool",
    "fetch_pool",
    "list_pool_senders",
    "list_pools",
    "remove_pool_sender",
    "update_pool",
]

AnyRequest = Request[Any, Any, Any]
FIELDS = {"name", "senders", "tags", "default"}
MAX_SENDERS = 10_000
_SENDERS_SHAPE = (
    f'must be an array of at most {MAX_SENDERS} senders: {{"senderId": …}} objects or ids'
)


def _sender_id(item: Any) -> str | None:
    """A sender id as Twilio gives one (`{"senderId": "comms_sender_…"}`) or as a string."""
    if isinstance(item, dict) and set(item) == {"senderId"}:
        item = item["senderId"]
    return item if isinstance(item, str) else None


async def _check_senders(
    request: AnyRequest, value: Any, errors: list[FieldError], field: str = "senders"
) -> list[str]:
    """The sender ids, in order, if each is a sender of this account."""
    given = [_sender_id(item) for item in value] if isinstance(value, list) else [None]
    if len(given) > MAX_SENDERS or None in given:
        errors.append(FieldError(field, _SENDERS_SHAPE))
        return []
    value = [sender_id for sender_id in given if sender_id is not None]
    ids = list(dict.fromkeys(value))
    account = account_of(request)
    wellformed = [sender_id for sender_id in ids if SENDER_ID_RE.fullmatch(sender_id)]
    found = await runtime_of(request).db.read(lambda conn: senders.get_senders(conn, wellformed))
    for index, sender_id in enumerate(value):
        sender = found.get(sender_id)
        if sender is None or sender.account_sid != account:
            errors.append(FieldError(f"{field}[{index}]", f"no sender {sender_id}"))
    return ids


async def _apply(
    request: AnyRequest, body: dict[str, Any], pool: SenderPoolRecord
) -> SenderPoolRecord:
    errors = unknown_fields(body, FIELDS)
    changes: dict[str, Any] = {}
    if "name" in body:
        name = body["name"]
        if not isinstance(name, str) or not 1 <= len(name) <= 256 or CONTROL.search(name):
            errors.append(
                FieldError("name", "must be 1 to 256 characters, without control characters")
            )
        changes["name"] = name
    if "senders" in body:
        changes["sender_ids"] = await _check_senders(request, body["senders"], errors)
    if "tags" in body:
        changes["tags"] = check_tags(body["tags"], errors)
    if "default" in body:
        if not isinstance(body["default"], bool):
            errors.append(FieldError("default", "must be true or false"))
        changes["is_default"] = body["default"]
    if errors:
        raise invalid(errors)
    return msgspec.structs.replace(pool, **changes, updated_at=now_ms())


async def _save(conn: Conn, pool: SenderPoolRecord, *, new: bool) -> None:
    if new:
        await senders.insert_pool(conn, pool)
    else:
        await senders.update_pool(conn, pool)
    if pool.is_default:
        await senders.set_default_pool(conn, pool.account_sid, pool.id)


@post("/SenderPools", status_code=202)
async def create_pool(request: AnyRequest) -> Response[bytes]:
    """202 with the (completed) SenderPool Operation, as Twilio answers, and the pool."""
    body = await json_body(request)
    now = now_ms()
    blank = SenderPoolRecord(new_sender_pool_id(), account_of(request), "", {}, False, [], now, now)
    pool = await _apply(request, body, blank)
    operation = completed_operation(pool.account_sid, pool.id, len(pool.sender_ids), now)

    async def save(conn: Conn) -> None:
        await _save(conn, pool, new=True)
        await insert_pool_operation(conn, operation)

    await runtime_of(request).db.write(save)
    return accepted(request, operation, pool_json(pool))


@get("/SenderPools")
async def list_pools(request: AnyRequest) -> Response[bytes]:
    return await plain_list(
        request,
        "senderPools",
        lambda conn, account, before, limit: senders.list_pools(
            conn, account, after=before, limit=limit
        ),
        pool_json,
    )


async def _load(request: AnyRequest, pool_id: FromPath[str]) -> SenderPoolRecord:
    if not SENDER_POOL_ID_RE.fullmatch(pool_id):
        raise not_found("SenderPool", pool_id)
    account = account_of(request)
    pool = await runtime_of(request).db.read(lambda conn: senders.get_pool(conn, account, pool_id))
    if pool is None:
        raise not_found("SenderPool", pool_id)
    return pool


@get("/SenderPools/{pool_id:str}")
async def fetch_pool(request: AnyRequest, pool_id: FromPath[str]) -> Response[bytes]:
    return json_response(pool_json(await _load(request, pool_id)))


@route(
    "/SenderPools/{pool_id:str}", http_method=[HttpMethod.POST, HttpMethod.PATCH], status_code=200
)
async def update_pool(request: AnyRequest, pool_id: FromPath[str]) -> Response[bytes]:
    body = await json_body(request)
    pool = await _apply(request, body, await _load(request, pool_id))
    await runtime_of(request).db.write(lambda conn: _save(conn, pool, new=False))
    return json_response(pool_json(pool))


@delete("/SenderPools/{pool_id:str}", status_code=204)
async def delete_pool(request: AnyRequest, pool_id: FromPath[str]) -> None:
    if not SENDER_POOL_ID_RE.fullmatch(pool_id):
        raise not_found("SenderPool", pool_id)
    account = account_of(request)
    if not await runtime_of(request).db.write(
        lambda conn: senders.delete_pool(conn, account, pool_id)
    ):
        raise not_found("SenderPool", pool_id)


@get("/SenderPools/{pool_id:str}/Senders")
async def list_pool_senders(request: AnyRequest, pool_id: FromPath[str]) -> Response[bytes]:
    """The pool's senders in the pool's order (its fallback order), paginated by position."""
    query = dict(request.query_params)
    errors: list[FieldError] = []
    page = page_of(request, query, errors)
    after = -1
    if page.before != TOP and not errors:
        kind, _, position = page.before.partition("_")
        if kind != "position" or not position.isdigit():
            errors.append(FieldError("pageToken", "is not a token of this list"))
        else:
            after = int(position)
    if errors:
        raise invalid(errors)
    pool = await _load(request, pool_id)
    rows = await runtime_of(request).db.read(
        lambda conn: senders.list_pool_members(
            conn, pool.id, after_position=after, limit=page.size + 1
        )
    )
    return json_response(
        page_envelope(
            "senders",
            rows,
            page,
            lambda member: sender_json(member.sender),
            lambda member: f"position_{member.position}",
        )
    )


async def _senders_to_add(request: AnyRequest) -> list[str]:
    """The body of an add: Twilio's JSON array of senders, or `{"senders": [...]}`."""
    value, errors = decode_json(await raw_json_body(request))
    if errors:
        raise invalid(errors)
    if isinstance(value, list):
        ids = await _check_senders(request, value, errors, field="body")
    elif isinstance(value, dict):
        errors = unknown_fields(value, {"senders"})
        ids = await _check_senders(request, value.get("senders"), errors)
    else:
        raise invalid([FieldError("body", "must be a JSON array of senders")])
    if errors:
        raise invalid(errors)
    return ids


@post("/SenderPools/{pool_id:str}/Senders", status_code=202)
async def add_pool_senders(request: AnyRequest, pool_id: FromPath[str]) -> Response[bytes]:
    """202 with the (completed) SenderPool Operation, as Twilio answers, and the pool."""
    pool = await _load(request, pool_id)
    ids = await _senders_to_add(request)
    account = account_of(request)
    now = now_ms()

    async def add(conn: Conn) -> tuple[SenderPoolRecord | None, PoolOperationRecord]:
        before = set(pool.sender_ids)
        await senders.add_pool_members(conn, pool.id, ids)
        added = len([sender_id for sender_id in dict.fromkeys(ids) if sender_id not in before])
        operation = completed_operation(account, pool.id, added, now)
        await insert_pool_operation(conn, operation)
        return await senders.get_pool(conn, account, pool.id), operation

    updated, operation = await runtime_of(request).db.write(add)
    if updated is None:  # deleted meanwhile
        raise not_found("SenderPool", pool_id)
    return accepted(request, operation, pool_json(updated))


@delete("/SenderPools/{pool_id:str}/Senders/{sender_id:str}", status_code=204)
async def remove_pool_sender(
    request: AnyRequest, pool_id: FromPath[str], sender_id: FromPath[str]
) -> None:
    pool = await _load(request, pool_id)
    if not SENDER_ID_RE.fullmatch(sender_id) or not await runtime_of(request).db.write(
        lambda conn: senders.remove_pool_member(conn, pool.id, sender_id)
    ):
        raise not_found("Sender", f"{sender_id} in pool {pool_id}")
