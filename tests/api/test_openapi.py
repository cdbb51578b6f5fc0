"""`/v1/openapi.json` and `/docs`: the document names every route of the app, and what
the real server answers (successes and errors, both engines) validates against it."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from litestar.routes import HTTPRoute

from opencomms.openapi.requests import request_schemas
from opencomms.settings import InputSettings
from tests.support.openapi import assert_documented, document_of
from tests.support.polling import wait_completed
from tests.support.server import ThreadServer

SEND = {"to": [{"address": "+14155550100", "channel": "PHONE"}], "content": {"text": "Hi"}}
ERROR_SCHEMAS = ("Error", "FieldError")
UNKNOWN_MESSAGE = "comms_message_01h9krwprkeee8fzqspvwy6nq8"
SINK_CONFIGURATION = json.dumps(
    {"destination": "http://127.0.0.1:9/hook", "method": "post", "batch_events": True}
)


def test_every_route_is_in_the_document(server: ThreadServer) -> None:
    document = document_of(server)
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["basic"]["scheme"] == "basic"
    missing = []
    for route in server.app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            for method in handler.http_methods - {"HEAD", "OPTIONS"}:
                item = document["paths"].get(route.path_format, {})
                if method.lower() not in item:
                    missing.append(f"{method} {route.path_format}")
    assert missing == []
    for prefix in ("/v1/Messages", "/events/v1/Sinks", "/webhooks/{connector}", "/healthz"):
        assert prefix in document["paths"]


def test_the_docs_page_uses_vendored_assets(server: ThreadServer) -> None:
    page = httpx.get(server.url + "/docs")
    assert page.status_code == 200
    assert "/v1/openapi.json" in page.text
    for asset in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert asset.startswith("/docs/assets/"), asset  # nothing from the internet
        assert httpx.get(server.url + asset).status_code == 200


def _v1_answers(api: httpx.Client) -> list[httpx.Response]:
    sent = api.post("/Messages", json=SEND)
    operation_id = sent.json()["operationId"]
    wait_completed(api, operation_id)
    messages = api.get("/Messages", params={"operationId": operation_id})
    message_id = messages.json()["messages"][0]["id"]
    return [
        sent,
        messages,
        api.get(f"/Messages/{message_id}"),
        api.get(f"/Messages/Operations/{operation_id}"),
        api.get("/Messages/Operations"),
        api.get("/Senders"),
        api.get("/SenderPools"),
        api.get("/Account"),
        api.post("/OptOuts", json={"address": "+14155550199", "channel": "PHONE"}),
        api.get("/OptOuts"),
        api.get(f"/Messages/{UNKNOWN_MESSAGE}"),  # 404
        api.post("/Messages", json={"to": "nobody"}),  # 400
        api.post("/Messages", content=b"{", headers={"Content-Type": "application/json"}),
        api.post("/Messages", content=b"to=x", headers={"Content-Type": "text/plain"}),  # 415
    ]


def _events_answers(events: httpx.Client) -> list[httpx.Response]:
    made = events.post(
        "/Sinks",
        data={"Description": "d", "SinkType": "webhook", "SinkConfiguration": SINK_CONFIGURATION},
    )
    sid = made.json()["sid"]
    return [
        made,
        events.get("/Sinks"),
        events.get(f"/Sinks/{sid}"),
        events.get("/Subscriptions"),
        events.post("/Sinks", data={"SinkType": "nothing"}),  # 400
        events.delete(f"/Sinks/{sid}"),  # 204
        events.get(f"/Sinks/{sid}"),  # 404
    ]


def test_real_answers_validate_against_the_document(
    server: ThreadServer, account: tuple[str, str]
) -> None:
    document = document_of(server)
    base = server.url
    with (
        httpx.Client(base_url=base + "/v1", auth=account, timeout=30) as api,
        httpx.Client(base_url=base + "/events/v1", auth=account, timeout=30) as events,
        httpx.Client(base_url=base, timeout=30) as anonymous,
    ):
        answers = [
            *_v1_answers(api),
            *_events_answers(events),
            anonymous.get("/v1/Messages"),  # 401
            anonymous.post("/webhooks/nobody", content=b"x"),  # 404
            anonymous.get("/healthz"),
        ]
    statuses = {answer.status_code for answer in answers}
    assert {200, 201, 202, 204, 400, 401, 404, 415} <= statuses
    for answer in answers:
        assert_documented(document, answer)


@pytest.mark.parametrize("path", ["/v1/openapi.json", "/docs"])
def test_the_document_is_public(server: ThreadServer, path: str) -> None:
    assert httpx.get(server.url + path).status_code == 200


def test_every_documented_page_size_is_taken(
    server: ThreadServer, account: tuple[str, str]
) -> None:
    """Each list the document gives a page size takes it (a GET of a collection with
    ids in its path is asked of unknown ids: 404, never a 400 for the parameter)."""
    document = document_of(server)
    lists = [
        (path, parameter["name"])
        for path, item in document["paths"].items()
        for parameter in item.get("get", {}).get("parameters", [])
        if parameter["name"] in ("pageSize", "PageSize")
    ]
    assert len(lists) >= 20
    with httpx.Client(base_url=server.url, auth=account, timeout=30) as client:
        for path, name in lists:
            concrete = re.sub(r"\{[^}]+\}", "unknown", path)
            answer = client.get(concrete, params={name: "1"})
            assert answer.status_code in (200, 404), (path, answer.text)
            assert_documented(document, answer)


def _success_schemas(document: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(method, path, status, schema) of every JSON success answer in the document."""
    return [
        (method, path, status, response["content"]["application/json"]["schema"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict)
        for status, response in operation.get("responses", {}).items()
        if status.startswith("2") and "application/json" in response.get("content", {})
    ]


def test_no_success_answer_is_a_bare_object(server: ThreadServer) -> None:
    """Every JSON success names a component with its fields: a route added without its
    schema in openapi/document.py's SUCCESS fails here."""
    document = document_of(server)
    components = document["components"]["schemas"]
    found = _success_schemas(document)
    assert len(found) >= 90
    bare = [f"{m} {p} {s}" for m, p, s, schema in found if schema == {"type": "object"}]
    assert bare == []
    for method, path, status, schema in found:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        assert components[name]["properties"], (method, path, status)


def _objects(schema: Any) -> list[dict[str, Any]]:
    """Every object schema with named fields inside `schema`, itself included."""
    if isinstance(schema, list):
        return [found for item in schema for found in _objects(item)]
    if not isinstance(schema, dict):
        return []
    inner = [found for value in schema.values() for found in _objects(value)]
    return ([schema] if "properties" in schema else []) + inner


def test_every_resource_lists_all_its_fields(server: ThreadServer) -> None:
    """Every object of every answer's schema is closed (`additionalProperties: false`): a
    field added to an answer and not to its schema makes the answer invalid. (The error
    body is msgspec's schema of ErrorBody.)"""
    components = document_of(server)["components"]["schemas"]
    requests = set(request_schemas(InputSettings()))  # as open as their parsers
    answers = [
        schema
        for name, schema in components.items()
        if name not in ERROR_SCHEMAS and name not in requests
    ]
    objects = _objects(answers)
    assert len(objects) >= 50
    open_ones = [
        sorted(o["properties"]) for o in objects if o.get("additionalProperties") is not False
    ]
    assert open_ones == []
