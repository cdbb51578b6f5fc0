"""Subscriptions and their subscribed events in Twilio's Event Streams dialect, under
`/events/v1/Subscriptions` (as at `https://events.twilio.com/v1/Subscriptions`), so that
twilio-python's `client.events.v1.subscriptions` and `.subscribed_events` work unchanged.
The same subscriptions as `/v1/Subscriptions` (api/sinks.py).

Twilio subscribes exact types, each at a schema version; opencomms serves one version of
each type's schema (domain/event_types.DATASCHEMAS), so a `schema_version` is checked
against it rather than stored. A subscription made with a `prefix*` pattern under `/v1`
shows here as the types the pattern selects.
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.params import FromPath

from opencomms.api.common import account_of, json_response, runtime_of
from opencomms.api.errors import FieldError, invalid, not_found
from opencomms.api.paging import unknown_filters
from opencomms.api.sinks import (
    MAX_DESCRIPTION,
    insert_subscription,
    load_subscription,
    subscribable_sink_problems,
)
from opencomms.api.twilio_form import Form, events_base, form_body, twilio_date, twilio_list
from opencomms.domain.clock import now_ms
from opencomms.domain.event_types import DATASCHEMAS, EVENT_TYPES
from opencomms.domain.ids import SINK_ID_RE, SUBSCRIPTION_ID_RE
from opencomms.store import sinks
from opencomms.store.sinks import SubscriptionRecord

__all__ = [
    "create_event_subscription",
    "create_subscribed_event",
    "delete_event_subscription",
    "delete_subscribed_event",
    "fetch_event_subscription",
    "fetch_subscribed_event",
    "list_event_subscriptions",
    "list_subscribed_events",
    "update_event_subscription",
    "update_subscribed_event",
]

AnyRequest = Request[Any, Any, Any]


def schema_version(event_type: str) -> int:
    """The version of the schema opencomms serves for this type (`…/Name/3` → 3)."""
    return int(DATASCHEMAS[event_type].rsplit("/", 1)[1])


def selected_types(subscription: SubscriptionRecord) -> list[str]:
    """The known types a subscription's patterns select, in the order of EVENT_TYPES."""
    return [
        t
        for t in EVENT_TYPES
        if any(t == p or (p.endswith("*") and t.startswith(p[:-1])) for p in subscription.types)
    ]


def event_subscription_json(subscription: SubscriptionRecord, base: str) -> dict[str, Any]:
    """Twilio's Subscription resource; `base`: `/events/v1` on this server."""
    url = f"{base}/Subscriptions/{subscription.id}"
    return {
        "account_sid": subscription.account_sid,
        "sid": subscription.id,
        "date_created": twilio_date(subscription.created_at),
        "date_updated": twilio_date(subscription.updated_at or subscription.created_at),
        "description": subscription.description,
        "sink_sid": subscription.sink_id,
        "url": url,
        "links": {"subscribed_events": f"{url}/SubscribedEvents"},
    }


def subscribed_event_json(
    subscription: SubscriptionRecord, event_type: str, base: str
) -> dict[str, Any]:
    """Twilio's SubscribedEvent resource: one type of a subscription."""
    return {
        "account_sid": subscription.account_sid,
        "type": event_type,
        "schema_version": schema_version(event_type),
        "subscription_sid": subscription.id,
        "url": f"{base}/Subscriptions/{subscription.id}/SubscribedEvents/{event_type}",
    }


def type_problem(event_type: Any) -> str | None:
    """What is wrong with subscribing `event_type`, or None."""
    if not isinstance(event_type, str) or event_type not in DATASCHEMAS:
        return f"must be one of {', '.join(EVENT_TYPES)}"
    return None


def version_problem(event_type: str, version: Any) -> str | None:
    """What is wrong with schema `version` of a known type (None: the one served)."""
    served = schema_version(event_type)
    if version is not None and (isinstance(version, bool) or str(version) != str(served)):
        return f"{version!r}: version {served} is the one served for {event_type}"
    return None


def _types(form: Form, errors: list[FieldError]) -> list[str]:
    """`Types`: repeated JSON objects `{"type", "schema_version"?}`."""
    listed = form.get("Types", [])
    if not listed:
        errors.append(FieldError("Types", "is required: one or more event types"))
    types: list[str] = []
    for index, text in enumerate(listed):
        try:
            item = json.loads(text)
        except ValueError:
            item = None
        field = f"Types[{index}]"
        if not isinstance(item, dict) or set(item) - {"type", "schema_version"}:
            errors.append(FieldError(field, 'must be a JSON object {"type", "schema_version"}'))
            continue
        problem = type_problem(item.get("type")) or version_problem(
            item["type"], item.get("schema_version")
        )
        if problem is None and item["type"] in types:
            problem = "is listed twice"
        if problem:
            errors.append(FieldError(field, problem))
        else:
            types.append(item["type"])
    return types


def _description(form: Form, errors: list[FieldError]) -> str | None:
    values = form.get("Description", [])
    if len(values) != 1 or len(values[0]) > MAX_DESCRIPTION:
        errors.append(FieldError("Description", f"is required: up to {MAX_DESCRIPTION} characters"))
        return None
    return values[0]


@post("/Subscriptions", status_code=201)
async def create_event_subscription(request: AnyRequest) -> Response[bytes]:
    form = await form_body(request, ("Description", "SinkSid", "Types"))
    errors: list[FieldError] = []
    description = _description(form, errors)
    types = _types(form, errors)
    sink_sid = form.get("SinkSid", [None])[0]
    errors += await subscribable_sink_problems(request, sink_sid, "SinkSid")
    if errors or description is None or sink_sid is None:
        raise invalid(errors)
    subscription = await insert_subscription(request, sink_sid, types, description)
    return json_response(event_subscription_json(subscription, events_base(request)), status=201)


@get("/Subscriptions")
async def list_event_subscriptions(request: AnyRequest) -> Response[bytes]:
    """`SinkSid` filters, as Twilio's list does."""
    filters = (
        {"SinkSid": request.query_params["SinkSid"]} if "SinkSid" in request.query_params else {}
    )
    sink_sid = filters.get("SinkSid")
    errors = []
    if sink_sid is not None and not SINK_ID_RE.fullmatch(sink_sid):
        errors.append(FieldError("SinkSid", "must be a sink's sid: DG and 32 hex digits"))
    base = events_base(request)
    body = await twilio_list(
        request,
        "subscriptions",
        filters,
        lambda conn, account, page: sinks.list_subscriptions(
            conn, account, before=page.before, limit=page.size + 1, sink_id=sink_sid
        ),
        lambda subscription: event_subscription_json(subscription, base),
        lambda subscription: subscription.id,
        errors,
    )
    return json_response(body)


@get("/Subscriptions/{sid:str}")
async def fetch_event_subscription(request: AnyRequest, sid: FromPath[str]) -> Response[bytes]:
    found = await load_subscription(request, sid)
    return json_response(event_subscription_json(found, events_base(request)))


async def _update(
    request: AnyRequest,
    subscription: SubscriptionRecord,
    *,
    description: str | None = None,
    types: list[str] | None = None,
) -> SubscriptionRecord:
    account, now = account_of(request), now_ms()
    await runtime_of(request).db.write(
        lambda conn: sinks.update_subscription(
            conn, account, subscription.id, now, description=description, types=types
        )
    )
    runtime_of(request).wake_sink(subscription.sink_id)
    return subscription._replace(
        description=subscription.description if description is None else description,
        types=subscription.types if types is None else types,
        updated_at=now,
    )


@post("/Subscriptions/{sid:str}", status_code=200)
async def update_event_subscription(request: AnyRequest, sid: FromPath[str]) -> Response[bytes]:
    """Twilio's update changes the description."""
    form = await form_body(request, ("Description",))
    subscription = await load_subscription(request, sid)
    errors: list[FieldError] = []
    description = _description(form, errors)
    if errors or description is None:
        raise invalid(errors)
    updated = await _update(request, subscription, description=description)
    return json_response(event_subscription_json(updated, events_base(request)))


@delete("/Subscriptions/{sid:str}", status_code=204)
async def delete_event_subscription(request: AnyRequest, sid: FromPath[str]) -> None:
    account = account_of(request)
    if not SUBSCRIPTION_ID_RE.fullmatch(sid) or not await runtime_of(request).db.write(
        lambda conn: sinks.delete_subscription(conn, account, sid)
    ):
        raise not_found("Subscription", sid)


@get("/Subscriptions/{sid:str}/SubscribedEvents")
async def list_subscribed_events(request: AnyRequest, sid: FromPath[str]) -> Response[bytes]:
    """Every type the subscription selects, on one page (there are eleven at most)."""
    subscription = await load_subscription(request, sid)
    if unknown := unknown_filters(request.query_params, ("Page",)):
        raise invalid(unknown)
    base = events_base(request)
    url = f"{base}/Subscriptions/{subscription.id}/SubscribedEvents"
    types = [subscribed_event_json(subscription, t, base) for t in selected_types(subscription)]
    meta = {
        "page": 0,
        "page_size": len(types),
        "first_page_url": url,
        "previous_page_url": None,
        "url": url,
        "next_page_url": None,
        "key": "types",
    }
    return json_response({"types": types, "meta": meta})


def _subscribed(subscription: SubscriptionRecord, event_type: str) -> None:
    if event_type not in selected_types(subscription):
        raise not_found("SubscribedEvent", event_type)


@post("/Subscriptions/{sid:str}/SubscribedEvents", status_code=201)
async def create_subscribed_event(request: AnyRequest, sid: FromPath[str]) -> Response[bytes]:
    """Add a type to the subscription."""
    form = await form_body(request, ("Type", "SchemaVersion"))
    subscription = await load_subscription(request, sid)
    event_type = form.get("Type", [None])[0]
    errors: list[FieldError] = []
    problem = type_problem(event_type)
    if problem is None and event_type in selected_types(subscription):
        problem = "is subscribed already"
    if problem is not None:
        errors.append(FieldError("Type", problem))
    elif event_type is not None and (wrong := version_problem(event_type, _version(form))):
        errors.append(FieldError("SchemaVersion", wrong))
    if errors or event_type is None:
        raise invalid(errors)
    updated = await _update(
        request, subscription, types=[*selected_types(subscription), event_type]
    )
    return json_response(
        subscribed_event_json(updated, event_type, events_base(request)), status=201
    )


def _version(form: Form) -> str | None:
    return form.get("SchemaVersion", [None])[0]


@get("/Subscriptions/{sid:str}/SubscribedEvents/{event_type:str}")
async def fetch_subscribed_event(
    request: AnyRequest, sid: FromPath[str], event_type: FromPath[str]
) -> Response[bytes]:
    subscription = await load_subscription(request, sid)
    _subscribed(subscription, event_type)
    return json_response(subscribed_event_json(subscription, event_type, events_base(request)))


@post("/Subscriptions/{sid:str}/SubscribedEvents/{event_type:str}", status_code=200)
async def update_subscribed_event(
    request: AnyRequest, sid: FromPath[str], event_type: FromPath[str]
) -> Response[bytes]:
    """Twilio's update sets the schema version: here, only the one served is taken."""
    form = await form_body(request, ("SchemaVersion",))
    subscription = await load_subscription(request, sid)
    _subscribed(subscription, event_type)
    problem = version_problem(event_type, _version(form))
    if problem is not None:
        raise invalid([FieldError("SchemaVersion", problem)])
    return json_response(subscribed_event_json(subscription, event_type, events_base(request)))


@delete("/Subscriptions/{sid:str}/SubscribedEvents/{event_type:str}", status_code=204)
async def delete_subscribed_event(
    request: AnyRequest, sid: FromPath[str], event_type: FromPath[str]
) -> None:
    """Remove a type; the last one cannot go (delete the subscription instead)."""
    subscription = await load_subscription(request, sid)
    _subscribed(subscription, event_type)
    rest = [t for t in selected_types(subscription) if t != event_type]
    if not rest:
        raise invalid(
            [FieldError("Type", "is the subscription's last type: delete the subscription")]
        )
    await _update(request, subscription, types=rest)
