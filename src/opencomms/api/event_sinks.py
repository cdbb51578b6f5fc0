"""Sinks in Twilio's Event Streams dialect, under `/events/v1/Sinks` (as at
`https://events.twilio.com/v1/Sinks`): form-encoded `Description`, `SinkType`,
`SinkConfiguration`; answers with Twilio's Sink resource, so that twilio-python's
`client.events.v1.sinks` works unchanged. The same sinks as `/v1/Sinks` (our JSON
dialect, api/sinks.py); what Twilio's resource has no field for is under `opencomms`.
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.params import FromPath

from opencomms.api.common import account_of, json_response, runtime_of
from opencomms.api.errors import FieldError, invalid, not_found
from opencomms.api.sink_test import send_test_event
from opencomms.api.sinks import MAX_DESCRIPTION, insert_webhook_sink, load_sink, sink_problems
from opencomms.api.twilio_form import Form, events_base, form_body, twilio_date, twilio_list
from opencomms.domain.clock import now_ms
from opencomms.domain.ids import SINK_ID_RE
from opencomms.store import sinks
from opencomms.store.sinks import SinkRecord

__all__ = [
    "create_event_sink",
    "delete_event_sink",
    "fetch_event_sink",
    "list_event_sinks",
    "test_event_sink",
    "update_event_sink",
    "validate_event_sink",
]

AnyRequest = Request[Any, Any, Any]
# ours -> Twilio's; Twilio's `initialized` and `validating` are never ours: a webhook
# sink is active when made (as Twilio's are), and a 410 answer disables it
STATUSES = {"ACTIVE": "active", "DISABLED": "failed"}
TWILIO_STATUSES = ("initialized", "validating", "active", "failed")
SINK_TYPES = ("kinesis", "webhook", "segment", "email")
CONFIGURATION = "SinkConfiguration"


def event_sink_json(sink: SinkRecord, base: str, *, secret: str | None = None) -> dict[str, Any]:
    """Twilio's Sink resource; `base`: `/events/v1` on this server."""
    url = f"{base}/Sinks/{sink.id}"
    ours: dict[str, Any] = {"kind": sink.kind}
    if secret is not None:
        ours["secret"] = secret
    return {
        "date_created": twilio_date(sink.created_at),
        "date_updated": twilio_date(sink.updated_at),
        "description": sink.description,
        "sid": sink.id,
        "sink_configuration": {
            "destination": sink.url,
            "method": "POST",
            "batch_events": bool(sink.batch_events),
        },
        "sink_type": "webhook",
        "status": STATUSES.get(sink.status, "failed"),
        "url": url,
        "links": {"sink_test": f"{url}/Test", "sink_validate": f"{url}/Validate"},
        "opencomms": ours,
    }


def _one(form: Form, name: str, errors: list[FieldError]) -> str | None:
    """The single value of a required parameter, else a problem."""
    values = form.get(name, [])
    if len(values) != 1:
        errors.append(FieldError(name, "is required, once"))
        return None
    return values[0]


def _configuration(text: str | None, errors: list[FieldError]) -> dict[str, Any] | None:
    """`SinkConfiguration` (JSON) when it is an object, its problems else; the
    destination itself is checked as every sink URL is (sink_problems)."""
    if text is None:
        return None
    try:
        configuration = json.loads(text)
    except ValueError:
        configuration = None
    if not isinstance(configuration, dict):
        errors.append(FieldError(CONFIGURATION, "must be a JSON object"))
        return None
    for name in configuration:
        if name not in ("destination", "method", "batch_events"):
            errors.append(FieldError(f"{CONFIGURATION}.{name}", "is not a webhook setting"))
    method = configuration.get("method", "POST")
    if not isinstance(method, str) or method.upper() != "POST":
        errors.append(FieldError(f"{CONFIGURATION}.method", "must be POST: events are posted"))
    if not isinstance(configuration.get("batch_events", True), bool):
        errors.append(FieldError(f"{CONFIGURATION}.batch_events", "must be true or false"))
    return configuration


@post("/Sinks", status_code=201)
async def create_event_sink(request: AnyRequest) -> Response[bytes]:
    form = await form_body(request, ("Description", "SinkType", CONFIGURATION))
    errors: list[FieldError] = []
    description = _one(form, "Description", errors)
    sink_type = _one(form, "SinkType", errors)
    if sink_type is not None and sink_type != "webhook":
        known = sink_type in SINK_TYPES
        errors.append(
            FieldError("SinkType", "only webhook sinks are served here" if known else "unknown")
        )
    configuration = _configuration(_one(form, CONFIGURATION, errors), errors)
    destination = None if configuration is None else configuration.get("destination")
    fields = (f"{CONFIGURATION}.destination", "Description")
    if configuration is not None:
        errors += await sink_problems(request, destination, description or "", fields)
    if errors or not isinstance(destination, str) or description is None:
        raise invalid(errors)
    batched = (configuration or {}).get("batch_events", True) is not False
    sink, secret = await insert_webhook_sink(
        request, destination, description, fields[0], batch_events=batched
    )
    return json_response(event_sink_json(sink, events_base(request), secret=secret), status=201)


@get("/Sinks")
async def list_event_sinks(request: AnyRequest) -> Response[bytes]:
    """`InUse` (a subscription names it) and `Status` filter, as Twilio's list does."""
    query = request.query_params
    filters = {name: query[name] for name in ("InUse", "Status") if name in query}
    errors = []
    if filters.get("InUse", "true") not in ("true", "false"):
        errors.append(FieldError("InUse", "must be true or false"))
    if filters.get("Status", "active") not in TWILIO_STATUSES:
        errors.append(FieldError("Status", f"must be one of {', '.join(TWILIO_STATUSES)}"))
    in_use = None if "InUse" not in filters else filters["InUse"] == "true"
    ours = {twilio: status for status, twilio in STATUSES.items()}
    status = None if "Status" not in filters else ours.get(filters["Status"], "NONE")
    base = events_base(request)
    body = await twilio_list(
        request,
        "sinks",
        filters,
        lambda conn, account, page: sinks.list_sinks(
            conn, account, before=page.before, limit=page.size + 1, status=status, in_use=in_use
        ),
        lambda sink: event_sink_json(sink, base),
        lambda sink: sink.id,
        errors,
    )
    return json_response(body)


@get("/Sinks/{sid:str}")
async def fetch_event_sink(request: AnyRequest, sid: FromPath[str]) -> Response[bytes]:
    return json_response(event_sink_json(await load_sink(request, sid), events_base(request)))


@post("/Sinks/{sid:str}", status_code=200)
async def update_event_sink(request: AnyRequest, sid: FromPath[str]) -> Response[bytes]:
    """Twilio's update changes the description only."""
    form = await form_body(request, ("Description",))
    sink = await load_sink(request, sid)
    errors: list[FieldError] = []
    description = _one(form, "Description", errors)
    if description is not None and len(description) > MAX_DESCRIPTION:
        errors.append(FieldError("Description", f"must be at most {MAX_DESCRIPTION} characters"))
    if errors or description is None:
        raise invalid(errors)
    account, now = account_of(request), now_ms()
    await runtime_of(request).db.write(
        lambda conn: sinks.update_sink_description(conn, account, sink.id, description, now)
    )
    updated = sink._replace(description=description, updated_at=now)
    return json_response(event_sink_json(updated, events_base(request)))


@delete("/Sinks/{sid:str}", status_code=204)
async def delete_event_sink(request: AnyRequest, sid: FromPath[str]) -> None:
    account = account_of(request)
    if not SINK_ID_RE.fullmatch(sid) or not await runtime_of(request).db.write(
        lambda conn: sinks.delete_sink(conn, account, sid)
    ):
        raise not_found("Sink", sid)


@post("/Sinks/{sid:str}/Test", status_code=201)
async def test_event_sink(request: AnyRequest, sid: FromPath[str]) -> Response[bytes]:
    """Post one test event to the sink now (Twilio: "creates a test event"); `result` is
    Twilio's `submitted`, and `opencomms` says how the receiver answered."""
    await form_body(request, ())
    sink = await load_sink(request, sid)
    outcome = await send_test_event(request, sink)
    return json_response({"result": "submitted", "opencomms": outcome}, status=201)


@post("/Sinks/{sid:str}/Validate", status_code=201)
async def validate_event_sink(request: AnyRequest, sid: FromPath[str]) -> Response[bytes]:
    """Twilio: "There is no longer a need for validating a Sink"; a `TestId` is required
    and the answer is always `valid`. Sinks here are active when made."""
    form = await form_body(request, ("TestId",))
    await load_sink(request, sid)
    errors: list[FieldError] = []
    _one(form, "TestId", errors)
    if errors:
        raise invalid(errors)
    return json_response({"result": "valid"}, status=201)
