"""`/v1/OptOuts`: the account's suppression list.

An entry names an address (a phone number in E.164, or an email address) and, optionally,
the one channel it is opted out of; without a channel it covers them all. A recipient on
the list gets no attempt on those channels: its Message is FAILED with 21610.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.params import FromPath

from opencomms.api.common import account_of, json_body, json_response, plain_list, runtime_of
from opencomms.api.errors import FieldError, invalid, not_found, unknown_fields
from opencomms.domain.addresses import normalize_address
from opencomms.domain.channels import RecipientChannel, SenderChannel
from opencomms.domain.clock import iso, now_ms
from opencomms.domain.ids import new_opt_out_id
from opencomms.store import opt_outs
from opencomms.store.opt_outs import OptOutRecord

__all__ = ["create_opt_out", "delete_opt_out", "fetch_opt_out", "list_opt_outs"]

AnyRequest = Request[Any, Any, Any]

_FIELDS = {"address", "channel"}
_CHANNELS = frozenset(channel.value for channel in SenderChannel)


def opt_out_json(record: OptOutRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "address": record.address,
        "channel": record.channel,
        "source": record.source,
        "createdAt": iso(record.created_at),
    }


def canonical_address(address: str) -> str | None:
    """Phone numbers in E.164 (a `whatsapp:` prefix is dropped), emails in lower case."""
    channel = RecipientChannel.EMAIL if "@" in address else RecipientChannel.WHATSAPP
    return normalize_address(address, channel)


def _parse(body: dict[str, Any]) -> tuple[str, str | None]:
    errors = unknown_fields(body, _FIELDS)
    address = body.get("address")
    canonical = canonical_address(address) if isinstance(address, str) else None
    if canonical is None:
        errors.append(
            FieldError("address", "must be a phone number in E.164 form or an email address")
        )
    channel = body.get("channel")
    if channel is not None and (not isinstance(channel, str) or channel.upper() not in _CHANNELS):
        errors.append(FieldError("channel", "must be one of SMS, RCS, WHATSAPP, EMAIL or null"))
    if errors:
        raise invalid(errors)
    assert canonical is not None
    return canonical, channel.upper() if channel is not None else None


@post("/OptOuts", status_code=201)
async def create_opt_out(request: AnyRequest) -> Response[bytes]:
    address, channel = _parse(await json_body(request))
    account = account_of(request)
    entry = OptOutRecord(
        id=new_opt_out_id(), address=address, channel=channel, source="API", created_at=now_ms()
    )
    stored = await runtime_of(request).db.write(
        lambda conn: opt_outs.add_opt_out(conn, account, entry)
    )
    return json_response(opt_out_json(stored), status=201)


@get("/OptOuts")
async def list_opt_outs(request: AnyRequest) -> Response[bytes]:
    return await plain_list(
        request,
        "optOuts",
        lambda conn, account, before, limit: opt_outs.list_opt_outs(
            conn, account, before=before, limit=limit
        ),
        opt_out_json,
    )


@get("/OptOuts/{address:str}")
async def fetch_opt_out(request: AnyRequest, address: FromPath[str]) -> Response[bytes]:
    account = account_of(request)
    canonical = canonical_address(address)
    found = (
        await runtime_of(request).db.read(
            lambda conn: opt_outs.get_opt_out(conn, account, canonical)
        )
        if canonical
        else None
    )
    if found is None:
        raise not_found("OptOut", address)
    return json_response(opt_out_json(found))


@delete("/OptOuts/{address:str}", status_code=204)
async def delete_opt_out(request: AnyRequest, address: FromPath[str]) -> None:
    account = account_of(request)
    canonical = canonical_address(address)
    if canonical is None or not await runtime_of(request).db.write(
        lambda conn: opt_outs.remove_opt_out(conn, account, canonical)
    ):
        raise not_found("OptOut", address)
