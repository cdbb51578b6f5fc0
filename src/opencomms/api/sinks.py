"""`/v1/Sinks` and `/v1/Subscriptions`: where status callbacks go, and which ones.

A sink URL is checked against server-side request forgery when it is created (and again
at every connection); its Standard Webhooks secret is shown once, in the 201. Sinks come
in two kinds: `webhook` (made here, fed by subscriptions) and `callback` (made by a
send's `callbacks.url`, fed by the sends that name it); both are listed and deleted
here, and both count towards the account's `[sinks] max_per_account`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.params import FromPath

from opencomms.api.common import account_of, json_body, json_response, plain_list, runtime_of
from opencomms.api.errors import ApiError, FieldError, invalid, not_found, unknown_fields
from opencomms.api.paging import unknown_filters
from opencomms.api.send_request import URL_PATTERN
from opencomms.domain.clock import iso, now_ms, parse_iso_ms
from opencomms.domain.ids import (
    SINK_ID_RE,
    SUBSCRIPTION_ID_RE,
    new_sink_id,
    new_subscription_id,
)
from opencomms.events.cloudevents import validate_type_pattern
from opencomms.events.signing import new_webhook_secret
from opencomms.events.ssrf import check_url_async
from opencomms.store import sinks
from opencomms.store.database import Conn
from opencomms.store.sinks import SinkRecord, SubscriptionRecord

__all__ = [
    "check_room_for_sink",
    "create_sink",
    "create_subscription",
    "delete_sink",
    "delete_subscription",
    "fetch_sink",
    "fetch_subscription",
    "insert_subscription",
    "insert_webhook_sink",
    "list_sink_deliveries",
    "list_sinks",
    "list_subscriptions",
    "load_sink",
    "load_subscription",
    "pattern_problems",
    "replay_sink",
    "room_for_sink",
    "sink_problems",
    "subscribable_sink_problems",
]

AnyRequest = Request[Any, Any, Any]
MAX_DELIVERIES = 100


def sink_json(sink: SinkRecord, *, secret: str | None = None) -> dict[str, Any]:
    """The wire form; `secret` (in the clear) only in the answer that made the sink."""
    body: dict[str, Any] = {
        "id": sink.id,
        "kind": sink.kind,
        "url": sink.url,
        "description": sink.description,
        "status": sink.status,
        "createdAt": iso(sink.created_at),
        "updatedAt": iso(sink.updated_at),
    }
    if secret is not None:
        body["secret"] = secret
    return body


def subscription_json(subscription: SubscriptionRecord) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "sinkId": subscription.sink_id,
        "types": subscription.types,
        "createdAt": iso(subscription.created_at),
    }


async def checked_callback_url(request: AnyRequest, url: Any, field: str) -> list[FieldError]:
    """Problems with a callback URL: its form, and where it points (SSRF guard)."""
    limit = runtime_of(request).settings.input.max_url_chars
    if not isinstance(url, str) or len(url) > limit or not URL_PATTERN.match(url):
        return [FieldError(field, f"must be an http(s) URL of at most {limit} characters")]
    problems = await check_url_async(url, runtime_of(request).callback_policy)
    return [FieldError(field, problem) for problem in problems or []]


async def room_for_sink(conn: Conn, account: str, limit: int, field: str) -> FieldError | None:
    """The problem, if the account already has as many sinks as it may."""
    if await sinks.count_sinks(conn, account) < limit:
        return None
    return FieldError(
        field,
        f"the account has {limit} sinks, the most it may have ([sinks] max_per_account);"
        " delete one first",
    )


async def check_room_for_sink(conn: Conn, account: str, limit: int, field: str) -> None:
    """Within the transaction that makes a sink: refuse it (400) past the limit, even
    when other requests make sinks at the same moment."""
    await sinks.lock_account_sinks(conn, account)
    problem = await room_for_sink(conn, account, limit, field)
    if problem is not None:
        raise invalid([problem])


MAX_DESCRIPTION = 512


async def sink_problems(
    request: AnyRequest, url: Any, description: Any, fields: tuple[str, str]
) -> list[FieldError]:
    """Everything wrong with a new webhook sink at `url`; `fields`: how the request names
    the URL and the description."""
    runtime, account = runtime_of(request), account_of(request)
    limit = runtime.settings.sinks.max_per_account
    errors = await checked_callback_url(request, url, fields[0])
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        errors.append(FieldError(fields[1], f"must be at most {MAX_DESCRIPTION} characters"))
    full = await runtime.db.read(lambda conn: room_for_sink(conn, account, limit, fields[0]))
    return errors + ([full] if full else [])


async def insert_webhook_sink(
    request: AnyRequest, url: str, description: str, url_field: str, *, batch_events: bool = True
) -> tuple[SinkRecord, str]:
    """The new sink (its checks passed) and its Standard Webhooks secret, in the clear;
    `batch_events` False: its events are POSTed one at a time, each a single object."""
    runtime, account = runtime_of(request), account_of(request)
    limit = runtime.settings.sinks.max_per_account
    secret = new_webhook_secret()
    sealed = runtime.sealer.seal(secret)

    async def create(conn: Conn) -> SinkRecord:
        await check_room_for_sink(conn, account, limit, url_field)
        now = now_ms()
        cursor = await sinks.current_position(conn)
        sink = SinkRecord(
            id=new_sink_id(), account_sid=account, kind="webhook", url=url,
            description=description, secret_sealed=sealed, status="ACTIVE",
            cursor_txid=cursor.txid, cursor_seq=cursor.seq, tries=0, failing_since=None,
            next_attempt_at=now, created_at=now, updated_at=now, last_used_at=None,
            batch_events=batch_events,
        )  # fmt: skip
        await sinks.insert_sink(conn, sink)
        return sink

    return await runtime.db.write(create), secret


async def our_json_body(request: AnyRequest, twilio_path: str) -> dict[str, Any]:
    """The JSON body; a form-encoded one is Twilio's dialect, served elsewhere: the 415
    says where."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        raise ApiError(
            415,
            "This call takes JSON. Twilio's form-encoded Event Streams API is served at"
            f" /events/v1{twilio_path} (docs/events.md).",
        )
    return await json_body(request)


@post("/Sinks", status_code=201)
async def create_sink(request: AnyRequest) -> Response[bytes]:
    body = await our_json_body(request, "/Sinks")
    description = body.get("description", "")
    errors = unknown_fields(body, ("url", "description"))
    errors += await sink_problems(request, body.get("url"), description, ("url", "description"))
    if errors:
        raise invalid(errors)
    sink, secret = await insert_webhook_sink(request, body["url"], description, "url")
    return json_response(sink_json(sink, secret=secret), status=201)


@get("/Sinks")
async def list_sinks(request: AnyRequest) -> Response[bytes]:
    return await plain_list(
        request,
        "sinks",
        lambda conn, account, before, limit: sinks.list_sinks(
            conn, account, before=before, limit=limit
        ),
        sink_json,
    )


async def load_sink(request: AnyRequest, sink_id: str) -> SinkRecord:
    """The caller's sink, or a 404."""
    if not SINK_ID_RE.fullmatch(sink_id):
        raise not_found("Sink", sink_id)
    account = account_of(request)
    sink = await runtime_of(request).db.read(lambda conn: sinks.get_sink(conn, account, sink_id))
    if sink is None:
        raise not_found("Sink", sink_id)
    return sink


@get("/Sinks/{sink_id:str}")
async def fetch_sink(request: AnyRequest, sink_id: FromPath[str]) -> Response[bytes]:
    return json_response(sink_json(await load_sink(request, sink_id)))


@delete("/Sinks/{sink_id:str}", status_code=204)
async def delete_sink(request: AnyRequest, sink_id: FromPath[str]) -> None:
    account = account_of(request)
    if not SINK_ID_RE.fullmatch(sink_id) or not await runtime_of(request).db.write(
        lambda conn: sinks.delete_sink(conn, account, sink_id)
    ):
        raise not_found("Sink", sink_id)


@get("/Sinks/{sink_id:str}/Deliveries")
async def list_sink_deliveries(request: AnyRequest, sink_id: FromPath[str]) -> Response[bytes]:
    """The most recent delivery attempts: outcome, response code, error, next retry (one
    page, no filter: a query parameter other than paging is a 400 naming it)."""
    sink = await load_sink(request, sink_id)
    if problems := unknown_filters(request.query_params, ()):
        raise invalid(problems)
    rows = await runtime_of(request).db.read(
        lambda conn: sinks.list_deliveries(conn, sink.id, MAX_DELIVERIES)
    )
    deliveries = [
        {
            "attemptedAt": iso(row["attempted_at"]),
            "events": row["events"],
            "firstEventId": row["first_event_id"],
            "lastEventId": row["last_event_id"],
            "outcome": row["outcome"],
            "responseCode": row["status_code"],
            "error": row["error"],
            "durationMs": row["duration_ms"],
            "nextAttemptAt": iso(row["next_attempt_at"]),
        }
        for row in rows
    ]
    return json_response(
        {
            "deliveries": deliveries,
            "status": sink.status,
            "nextAttemptAt": iso(sink.next_attempt_at) if sink.tries else None,
        }
    )


@post("/Sinks/{sink_id:str}/Replay", status_code=202)
async def replay_sink(request: AnyRequest, sink_id: FromPath[str]) -> Response[bytes]:
    """Send again the sink's events created in [startDate, endDate) (endDate: now), with
    their original ids, after the events it is due anyway."""
    body = await json_body(request)
    sink = await load_sink(request, sink_id)
    errors = unknown_fields(body, ("startDate", "endDate"))
    now = now_ms()
    bounds = []
    for name, default in (("startDate", None), ("endDate", now)):
        text = body.get(name)
        moment = parse_iso_ms(text) if isinstance(text, str) else None
        if moment is None and (text is not None or default is None):
            errors.append(FieldError(name, "must be an RFC 3339 date-time with a zone"))
        bounds.append(moment if moment is not None else default)
    since, until = bounds
    if since is not None and until is not None and until <= since:
        errors.append(FieldError("endDate", "must be after startDate"))
    if errors or since is None or until is None:
        raise invalid(errors)
    await runtime_of(request).db.write(
        lambda conn: sinks.insert_replay(conn, sink.id, since, until, now)
    )
    return json_response(
        {"sinkId": sink.id, "startDate": iso(since), "endDate": iso(until)}, status=202
    )


def pattern_problems(types: Any, field: str) -> list[FieldError]:
    """What is wrong with a list of type patterns (exact types or `prefix*`)."""
    if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
        return [FieldError(field, "must be a non-empty array of event types")]
    problems = ((index, validate_type_pattern(pattern)) for index, pattern in enumerate(types))
    return [FieldError(f"{field}[{index}]", problem) for index, problem in problems if problem]


async def subscribable_sink_problems(
    request: AnyRequest, sink_id: Any, field: str
) -> list[FieldError]:
    """Whether the caller has a webhook sink `sink_id` (a callbacks.url sink takes none)."""
    account = account_of(request)
    sink = None
    if isinstance(sink_id, str) and SINK_ID_RE.fullmatch(sink_id):
        sink = await runtime_of(request).db.read(
            lambda conn: sinks.get_sink(conn, account, sink_id)
        )
    if sink is None:
        return [FieldError(field, "no sink with this id")]
    if sink.kind != "webhook":
        return [FieldError(field, "is a callbacks.url sink: it gets the events of its sends only")]
    return []


async def insert_subscription(
    request: AnyRequest, sink_id: str, types: list[str], description: str = ""
) -> SubscriptionRecord:
    """The new subscription (its checks passed); its sink looks for events at once."""
    subscription = SubscriptionRecord(
        new_subscription_id(), account_of(request), sink_id, types, now_ms(), description
    )
    await runtime_of(request).db.write(lambda conn: sinks.insert_subscription(conn, subscription))
    runtime_of(request).wake_sink(subscription.sink_id)
    return subscription


@post("/Subscriptions", status_code=201)
async def create_subscription(request: AnyRequest) -> Response[bytes]:
    body = await our_json_body(request, "/Subscriptions")
    errors = unknown_fields(body, ("sinkId", "types"))
    errors += pattern_problems(body.get("types"), "types")
    errors += await subscribable_sink_problems(request, body.get("sinkId"), "sinkId")
    if errors:
        raise invalid(errors)
    subscription = await insert_subscription(request, body["sinkId"], list(body["types"]))
    return json_response(subscription_json(subscription), status=201)


@get("/Subscriptions")
async def list_subscriptions(request: AnyRequest) -> Response[bytes]:
    return await plain_list(
        request,
        "subscriptions",
        lambda conn, account, before, limit: sinks.list_subscriptions(
            conn, account, before=before, limit=limit
        ),
        subscription_json,
    )


async def load_subscription(request: AnyRequest, subscription_id: str) -> SubscriptionRecord:
    """The caller's subscription, or a 404."""
    if not SUBSCRIPTION_ID_RE.fullmatch(subscription_id):
        raise not_found("Subscription", subscription_id)
    account = account_of(request)
    found = await runtime_of(request).db.read(
        lambda conn: sinks.get_subscription(conn, account, subscription_id)
    )
    if found is None:
        raise not_found("Subscription", subscription_id)
    return found


@get("/Subscriptions/{subscription_id:str}")
async def fetch_subscription(
    request: AnyRequest, subscription_id: FromPath[str]
) -> Response[bytes]:
    return json_response(subscription_json(await load_subscription(request, subscription_id)))


@delete("/Subscriptions/{subscription_id:str}", status_code=204)
async def delete_subscription(request: AnyRequest, subscription_id: FromPath[str]) -> None:
    account = account_of(request)
    if not SUBSCRIPTION_ID_RE.fullmatch(subscription_id) or not await runtime_of(request).db.write(
        lambda conn: sinks.delete_subscription(conn, account, subscription_id)
    ):
        raise not_found("Subscription", subscription_id)
