"""The finished document: Litestar's paths (generated from the route handlers) completed
with what the handlers cannot say, since they read and check their bodies by hand: the
request bodies (requests.py, twilio_forms.py), the schemas of the JSON answers
(schemas.py, twilio_schemas.py), the contract's error body on every error status, and the
auth scheme (HTTP Basic: an account SID with its auth token, or an API key SID with its
secret)."""

from __future__ import annotations

import copy
from collections.abc import Collection
from typing import Any

import msgspec

from opencomms.api.errors import ErrorBody
from opencomms.api.twilio_form import EVENTS_PREFIX
from opencomms.openapi.requests import REQUESTS, request_schemas
from opencomms.openapi.schemas import V1_SCHEMAS, ref
from opencomms.openapi.twilio_forms import FORM_SCHEMAS, FORMS
from opencomms.openapi.twilio_schemas import TWILIO_SCHEMAS
from opencomms.settings import InputSettings

__all__ = ["finish"]

ERROR_REF = {"$ref": "#/components/schemas/Error"}
JSON_OBJECT: dict[str, Any] = {"type": "object"}
# Every error status an operation may answer, besides those its own kind adds
COMMON_ERRORS = (400, 401, 404, 413, 415, 429, 503)
WEBHOOK_ERRORS = (404, 503)
BODY_METHODS = ("post", "patch", "put")
# the query parameters of the lists (api/paging.py; Twilio's names under /events/v1)
PAGE_SIZE = {"type": "integer", "minimum": 1, "maximum": 1000}
V1_PAGING = {"pageSize": PAGE_SIZE, "pageToken": {"type": "string"}}
EVENTS_PAGING = {"PageSize": PAGE_SIZE, "PageToken": {"type": "string"}}
DATE = {"type": "string", "format": "date-time"}
V1_FILTERS: dict[str, dict[str, Any]] = {
    "/Messages": {
        "operationId": {"type": "string"},
        "status": {"type": "string"},
        "channel": {"type": "string"},
        "tags": {"type": "string", "description": "k:v;k2:v2;"},
        "startDate": DATE,
        "endDate": DATE,
        "address": {"type": "string"},
    },
    "/Messages/Operations": {"status": {"type": "string"}, "startDate": DATE, "endDate": DATE},
    "/Senders": {"status": {"type": "string"}, "channel": {"type": "string"}},
}
EVENTS_FILTERS: dict[str, dict[str, Any]] = {
    "/Sinks": {"InUse": {"type": "string", "enum": ["true", "false"]}, "Status": {"type": "string"}}
}
NOT_LISTS = ("/healthz", "/Account")
VERSION_PREFIXES = ("/v1/", "/preview/")
# The schema of each operation's success answer, by method and path (under /v1 and
# /preview alike; /events/v1 in full); its status is the one the handler declares.
# A 204 and the 301 of a Seek have no body.
SUCCESS: dict[tuple[str, str], str] = {
    ("post", "/Messages"): "Accepted",
    ("get", "/Messages"): "MessageList",
    ("post", "/Messages/Search"): "MessageList",
    ("get", "/Messages/{message_id}"): "MessageWithAttempts",
    ("post", "/Messages/{message_id}/Cancel"): "Message",
    ("get", "/Messages/Operations"): "OperationList",
    ("get", "/Messages/Operations/{operation_id}"): "Operation",
    ("post", "/Messages/Operations/{operation_id}/Cancel"): "Operation",
    ("get", "/Messages/Operations/{operation_id}/Errors"): "OperationErrorList",
    ("get", "/Senders"): "SenderList",
    ("post", "/Senders"): "Sender",
    ("post", "/Senders/Search"): "SenderList",
    ("post", "/Senders/Resolve"): "SenderResolution",
    ("get", "/Senders/{sender_id}"): "Sender",
    ("post", "/Senders/{sender_id}"): "Sender",
    ("patch", "/Senders/{sender_id}"): "Sender",
    ("get", "/SenderPools"): "SenderPoolList",
    ("post", "/SenderPools"): "SenderPoolAccepted",
    ("get", "/SenderPools/{pool_id}"): "SenderPool",
    ("post", "/SenderPools/{pool_id}"): "SenderPool",
    ("patch", "/SenderPools/{pool_id}"): "SenderPool",
    ("get", "/SenderPools/{pool_id}/Senders"): "SenderList",
    ("post", "/SenderPools/{pool_id}/Senders"): "SenderPoolAccepted",
    ("get", "/SenderPools/Operations"): "SenderPoolOperationList",
    ("get", "/SenderPools/Operations/{operation_id}"): "SenderPoolOperation",
    ("get", "/ApiKeys"): "ApiKeyList",
    ("post", "/ApiKeys"): "ApiKeyCreated",
    ("get", "/OptOuts"): "OptOutList",
    ("post", "/OptOuts"): "OptOut",
    ("get", "/OptOuts/{address}"): "OptOut",
    ("get", "/Account"): "Account",
    ("get", "/Content"): "ContentList",
    ("post", "/Content"): "Content",
    ("get", "/Content/{sid}"): "Content",
    ("get", "/Sinks"): "SinkList",
    ("post", "/Sinks"): "SinkCreated",
    ("get", "/Sinks/{sink_id}"): "Sink",
    ("get", "/Sinks/{sink_id}/Deliveries"): "SinkDeliveries",
    ("post", "/Sinks/{sink_id}/Replay"): "SinkReplay",
    ("get", "/Subscriptions"): "SubscriptionList",
    ("post", "/Subscriptions"): "Subscription",
    ("get", "/Subscriptions/{subscription_id}"): "Subscription",
    ("get", "/healthz"): "Health",
    ("get", "/events/v1/Sinks"): "EventSinkList",
    ("post", "/events/v1/Sinks"): "EventSink",
    ("get", "/events/v1/Sinks/{sid}"): "EventSink",
    ("post", "/events/v1/Sinks/{sid}"): "EventSink",
    ("post", "/events/v1/Sinks/{sid}/Test"): "EventSinkTest",
    ("post", "/events/v1/Sinks/{sid}/Validate"): "EventSinkValidation",
    ("get", "/events/v1/Subscriptions"): "EventSubscriptionList",
    ("post", "/events/v1/Subscriptions"): "EventSubscription",
    ("get", "/events/v1/Subscriptions/{sid}"): "EventSubscription",
    ("post", "/events/v1/Subscriptions/{sid}"): "EventSubscription",
    ("get", "/events/v1/Subscriptions/{sid}/SubscribedEvents"): "SubscribedEventList",
    ("post", "/events/v1/Subscriptions/{sid}/SubscribedEvents"): "SubscribedEvent",
    ("get", "/events/v1/Subscriptions/{sid}/SubscribedEvents/{event_type}"): "SubscribedEvent",
    ("post", "/events/v1/Subscriptions/{sid}/SubscribedEvents/{event_type}"): "SubscribedEvent",
}
DESCRIPTION = (
    "A Twilio-wire-compatible bulk messaging API. Authenticate with HTTP Basic: the "
    "account SID and its auth token, or an API key SID and its secret. Every error "
    "answers the contract's error body (`Error`)."
)


def _error_schema() -> dict[str, Any]:
    """The contract's error body, from the msgspec type the API encodes it with."""
    _, components = msgspec.json.schema_components(
        [ErrorBody], ref_template="#/components/schemas/{name}"
    )
    found = copy.deepcopy(components)
    found["Error"] = found.pop("ErrorBody")
    return found


def _version_path(path: str) -> str:
    """`path` without its `/v1` or `/preview` (the same handlers serve both)."""
    return "/" + path.split("/", 2)[2] if path.startswith(VERSION_PREFIXES) else path


def _request_body(path: str, method: str, schemas: dict[str, Any]) -> dict[str, Any] | None:
    """The form of `/events/v1`, or the JSON body REQUESTS names (required when its schema
    has required fields: an empty body is `{}`); None for a call that reads no body."""
    if path.startswith(EVENTS_PREFIX):
        form = FORMS.get((method, path.removeprefix(EVENTS_PREFIX)))
        if form is None:
            return None
        content = {"application/x-www-form-urlencoded": {"schema": ref(form)}}
        return {"required": "required" in schemas[form], "content": content}
    name = REQUESTS.get((method, _version_path(path)))
    if name is None:
        return None
    required = "required" in schemas[name] or "anyOf" in schemas[name]
    return {"required": required, "content": {"application/json": {"schema": ref(name)}}}


def _error_response(status: int) -> dict[str, Any]:
    return {
        "description": f"The contract's error body (HTTP {status}).",
        "content": {"application/json": {"schema": ERROR_REF}},
    }


def _success_schema(path: str, method: str) -> dict[str, Any]:
    """The schema of the operation's success answer (SUCCESS), the same under /v1 and
    /preview; a bare object for an operation missing from SUCCESS, which
    tests/api/test_openapi.py refuses."""
    name = SUCCESS.get((method, _version_path(path)))
    return JSON_OBJECT if name is None else ref(name)


def _finish_responses(
    operation: dict[str, Any], success: dict[str, Any], errors: tuple[int, ...]
) -> None:
    """Success answers are `success` (or empty: 204, and a redirect); errors are the
    error body."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for code, response in responses.items():
        if code.startswith("2") and code != "204":
            response["content"] = {"application/json": {"schema": success}}
        else:
            response.pop("content", None)
    for status in errors:
        responses[str(status)] = _error_response(status)


def _finish_webhook(operation: dict[str, Any]) -> None:
    """A provider's call: the connector reads its own body and answers in its own words."""
    operation["security"] = []
    operation["requestBody"] = {
        "required": False,
        "content": {"*/*": {"schema": {}}},
    }
    operation["responses"] = {
        "200": {"description": "The connector's own answer.", "content": {"*/*": {"schema": {}}}},
        **{str(status): _error_response(status) for status in WEBHOOK_ERRORS},
    }


def _list_parameters(path: str) -> list[dict[str, Any]]:
    """The paging and filters of a list (a GET of a collection), none for anything else."""
    if path.endswith("}") or path.endswith(NOT_LISTS) or path.startswith("/webhooks/"):
        return []
    events = path.startswith(EVENTS_PREFIX)
    resource = path.removeprefix(EVENTS_PREFIX) if events else "/" + path.split("/", 2)[2]
    filters = (EVENTS_FILTERS if events else V1_FILTERS).get(resource, {})
    query = {**(EVENTS_PAGING if events else V1_PAGING), **filters}
    return [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in query.items()
    ]


def _finish_operation(
    path: str, method: str, operation: dict[str, Any], schemas: dict[str, Any]
) -> None:
    if path.startswith("/webhooks/"):
        _finish_webhook(operation)
        return
    success = _success_schema(path, method)
    if path == "/healthz":
        operation["security"] = []
        _finish_responses(operation, success, ())
        operation["responses"]["503"] = {
            "description": "The database does not answer (with Retry-After).",
            "content": {"application/json": {"schema": success}},
        }
        return
    body = _request_body(path, method, schemas) if method in BODY_METHODS else None
    if body is None:
        operation.pop("requestBody", None)
    else:
        operation["requestBody"] = body
    if method == "get":
        operation["parameters"] = operation.get("parameters", []) + _list_parameters(path)
    errors = COMMON_ERRORS + ((409, 422) if method != "get" else ())
    _finish_responses(operation, success, errors)


def finish(
    generated: dict[str, Any],
    limits: InputSettings | None = None,
    connectors: Collection[str] = (),
) -> dict[str, Any]:
    """The document served: `generated` (Litestar's, left unchanged) completed; the
    request bodies' bounds are the server's `[input]` `limits`, a sender's connector one
    of its `connectors`."""
    document = copy.deepcopy(generated)
    document["openapi"] = "3.1.0"
    document["info"]["description"] = DESCRIPTION
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    answers_and_forms = {**V1_SCHEMAS, **TWILIO_SCHEMAS, **FORM_SCHEMAS}
    schemas.update({**_error_schema(), **copy.deepcopy(answers_and_forms)})
    schemas.update(request_schemas(limits or InputSettings(), connectors))
    components["securitySchemes"] = {
        "basic": {
            "type": "http",
            "scheme": "basic",
            "description": "Account SID + auth token, or API key SID + secret.",
        }
    }
    document["security"] = [{"basic": []}]
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                _finish_operation(path, method, operation, schemas)
    return document
