"""The finished document: Litestar's paths (generated from the route handlers) completed
with what the handlers cannot say, since they read and check their bodies by hand: the
request bodies, the JSON answers, the contract's error body on every error status, and
the auth scheme (HTTP Basic: an account SID with its auth token, or an API key SID with
its secret)."""

from __future__ import annotations

import copy
from typing import Any

import msgspec

from opencomms.api.errors import ErrorBody
from opencomms.api.twilio_form import EVENTS_PREFIX

__all__ = ["finish"]

ERROR_REF = {"$ref": "#/components/schemas/Error"}
JSON_OBJECT: dict[str, Any] = {"type": "object"}
# A Twilio-dialect form: every field a string (a repeated field: several strings)
FORM_FIELDS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {
        "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
    },
}
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


def _request_body(path: str) -> dict[str, Any]:
    if path.startswith(EVENTS_PREFIX):
        content = {"application/x-www-form-urlencoded": {"schema": FORM_FIELDS}}
    else:
        content = {"application/json": {"schema": JSON_OBJECT}}
    return {"required": False, "content": content}


def _error_response(status: int) -> dict[str, Any]:
    return {
        "description": f"The contract's error body (HTTP {status}).",
        "content": {"application/json": {"schema": ERROR_REF}},
    }


def _finish_responses(operation: dict[str, Any], errors: tuple[int, ...]) -> None:
    """Success answers are JSON objects (or empty: 204); errors are the error body."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for code, response in responses.items():
        if code.startswith("2") and code != "204":
            response["content"] = {"application/json": {"schema": JSON_OBJECT}}
        elif code == "204":
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


def _finish_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    if path.startswith("/webhooks/"):
        _finish_webhook(operation)
        return
    if path == "/healthz":
        operation["security"] = []
        _finish_responses(operation, (503,))
        return
    if method in BODY_METHODS:
        operation["requestBody"] = _request_body(path)
    if method == "get":
        operation["parameters"] = operation.get("parameters", []) + _list_parameters(path)
    errors = COMMON_ERRORS + ((409, 422) if method != "get" else ())
    _finish_responses(operation, errors)


def finish(generated: dict[str, Any]) -> dict[str, Any]:
    """The document served: `generated` (Litestar's, left unchanged) completed."""
    document = copy.deepcopy(generated)
    document["openapi"] = "3.1.0"
    document["info"]["description"] = DESCRIPTION
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).update(_error_schema())
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
                _finish_operation(path, method, operation)
    return document
