"""`POST /v1/Senders/Search` (senders by address and channel) and `POST
/v1/Senders/Resolve` (which sender would reach which of a person's addresses), as
Twilio's Comms API documents them."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from opencomms.api.common import account_of, json_body, json_response, page_of, runtime_of
from opencomms.api.errors import FieldError, field_path, invalid, unknown_fields
from opencomms.api.filters import enum_filter
from opencomms.api.paging import PAGING_PARAMETERS, page_envelope
from opencomms.api.wire import sender_json
from opencomms.domain.channels import RecipientChannel, SenderChannel, reaches
from opencomms.domain.ids import SENDER_POOL_ID_RE
from opencomms.store import senders
from opencomms.store.database import Conn
from opencomms.store.records import SenderRecord

__all__ = ["resolve_senders", "search_senders"]

AnyRequest = Request[Any, Any, Any]
SENDER_CHANNELS = frozenset(c.value for c in SenderChannel)
RECIPIENT_CHANNELS = frozenset(c.value for c in RecipientChannel)
MAX_ADDRESSES = 100
MAX_RESULTS = 10  # Twilio: "limited to the top 10 highest priority results"
_NOT_IN_QUERY = "is not a query parameter of a search: filters go in the body"


@post("/Senders/Search", status_code=200)
async def search_senders(request: AnyRequest) -> Response[bytes]:
    """Senders with the body's `address` and/or `channel`; paged by the query."""
    body = await json_body(request)
    query = request.query_params
    errors = [
        FieldError(field_path("", k), _NOT_IN_QUERY) for k in query if k not in PAGING_PARAMETERS
    ]
    values = {k: v for k, v in body.items() if isinstance(v, str)}
    errors += [FieldError(field_path("", k), "must be a string") for k in body if k not in values]
    paging = {k: v for k, v in query.items() if k in PAGING_PARAMETERS}
    page = page_of(request, {**values, **paging}, errors, ("address", "channel"))
    channel = enum_filter(values, "channel", set(SENDER_CHANNELS), errors)
    if errors:
        raise invalid(errors)
    account = account_of(request)
    rows = await runtime_of(request).db.read(
        lambda conn: senders.list_senders(
            conn,
            account,
            after=page.before,
            limit=page.size + 1,
            channel=channel,
            address=values.get("address"),
        )
    )
    return json_response(page_envelope("senders", rows, page, sender_json))


def _addresses(value: Any, errors: list[FieldError]) -> list[tuple[str, str]]:
    """`recipientAddresses`: 1 to 100 `{address, channel}` of a recipient's channels."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_ADDRESSES:
        errors.append(
            FieldError("recipientAddresses", f"must be an array of 1 to {MAX_ADDRESSES} addresses")
        )
        return []
    found = []
    for index, item in enumerate(value):
        path = f"recipientAddresses[{index}]"
        address = item.get("address") if isinstance(item, dict) else None
        channel = item.get("channel") if isinstance(item, dict) else None
        if not isinstance(address, str) or not address:
            errors.append(FieldError(f"{path}.address", "is required"))
        elif not isinstance(channel, str) or channel.upper() not in RECIPIENT_CHANNELS:
            errors.append(FieldError(f"{path}.channel", "must be PHONE, WHATSAPP or EMAIL"))
        else:
            found.append((address, channel.upper()))
    return found


def _channel_control(value: Any, errors: list[FieldError]) -> tuple[set[str], dict[str, int]]:
    """`channels`: the sender channels allowed (`filterIn`) and their `priority`."""
    allowed: set[str] = set(SENDER_CHANNELS)
    priority: dict[str, int] = {}
    if value is None:
        return allowed, priority
    if not isinstance(value, dict):
        errors.append(FieldError("channels", "must be an object"))
        return allowed, priority
    errors += unknown_fields(value, {"filterIn", "priority"}, "channels")
    filter_in = value.get("filterIn")
    if filter_in is not None:
        if not isinstance(filter_in, list) or not all(
            isinstance(c, str) and c.upper() in SENDER_CHANNELS for c in filter_in
        ):
            errors.append(FieldError("channels.filterIn", "must be an array of sender channels"))
        else:
            allowed = {c.upper() for c in filter_in}
    ranks = value.get("priority")
    if ranks is not None and not isinstance(ranks, list):
        errors.append(FieldError("channels.priority", "must be an array of {channel, priority}"))
        ranks = None
    for index, item in enumerate(ranks or []):
        channel = item.get("channel") if isinstance(item, dict) else None
        rank = item.get("priority") if isinstance(item, dict) else None
        if (
            not isinstance(channel, str)
            or channel.upper() not in SENDER_CHANNELS
            or (not isinstance(rank, int) or isinstance(rank, bool))
        ):
            errors.append(FieldError(f"channels.priority[{index}]", "must be {channel, priority}"))
        else:
            priority[channel.upper()] = rank
    return allowed, priority


async def _pool_senders(conn: Conn, account: str, pool_id: str | None) -> list[SenderRecord] | None:
    """The activated, usable senders of the pool (or the default pool), in its order."""
    pool = (
        await senders.default_pool(conn, account)
        if pool_id is None
        else await senders.get_pool(conn, account, pool_id)
    )
    if pool is None:
        return None
    usable = await senders.get_sendable_senders(conn, pool.sender_ids)
    return [usable[i] for i in pool.sender_ids if i in usable and usable[i].status == "ACTIVATED"]


def _pairs(
    ordered: list[SenderRecord],
    addresses: list[tuple[str, str]],
    allowed: set[str],
    priority: dict[str, int],
) -> list[dict[str, Any]]:
    """Every (sender, address) pair that can be sent on, in the order a send would try
    them (each address in turn, the pool's senders in order), then by `priority`."""
    pairs = [
        (sender, address, channel)
        for address, channel in addresses
        for sender in ordered
        if sender.channel in allowed and reaches(sender.channel, channel)
    ]
    if priority:
        last = max(priority.values()) + 1
        pairs.sort(key=lambda pair: priority.get(pair[0].channel, last))
    return [
        {
            "from": {
                "senderId": sender.id,
                "displayName": sender.display_name,
                "channel": sender.channel,
                "address": sender.address,
            },
            "to": {"address": address, "channel": channel},
            "priority": rank,
        }
        for rank, (sender, address, channel) in enumerate(pairs[:MAX_RESULTS])
    ]


@post("/Senders/Resolve", status_code=200)
async def resolve_senders(request: AnyRequest) -> Response[bytes]:
    """`{senderPoolId?, recipientAddresses, channels?}` → up to 10 `{from, to, priority}`."""
    body = await json_body(request)
    errors = unknown_fields(body, {"senderPoolId", "recipientAddresses", "channels"})
    pool_id = body.get("senderPoolId")
    if pool_id is not None and (
        not isinstance(pool_id, str) or not SENDER_POOL_ID_RE.match(pool_id)
    ):
        errors.append(FieldError("senderPoolId", "is not a sender pool id"))
    addresses = _addresses(body.get("recipientAddresses"), errors)
    allowed, priority = _channel_control(body.get("channels"), errors)
    account = account_of(request)
    ordered = None
    if not errors:
        ordered = await runtime_of(request).db.read(
            lambda conn: _pool_senders(conn, account, pool_id)
        )
        if ordered is None:
            errors.append(FieldError("senderPoolId", "no sender pool with this id"))
    if errors or ordered is None:
        raise invalid(errors)
    return json_response({"results": _pairs(ordered, addresses, allowed, priority)})
