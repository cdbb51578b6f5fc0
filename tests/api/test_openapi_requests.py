"""The documented request bodies (`/v1` JSON, `/events/v1` forms): none is a bare object,
and bodies in the forms each parser takes (several addresses, a template send, channel
modules, a sender, schedule, callbacks and tags, Twilio's shapes of a pool add, null
fields) validate against their schemas and are accepted by the real server, on both
engines. (Each body of tests/api/test_openapi_answers.py is checked the same way.) And the
schemas say what the server refuses where they can: a body failing a bound or an enum is a
400."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jsonschema
import pytest

from tests.api.test_openapi_answers import TEMPLATE, ok
from tests.support.openapi import assert_request_documented, document_of, operation_for
from tests.support.server import ThreadServer

BARE = ({"type": "object"}, {})
PHONE = {"address": "+14155550100", "channel": "PHONE"}


def _schema_of(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    schema: dict[str, Any] = operation_for(document, method, path)["requestBody"]["content"][
        "application/json"
    ]["schema"]
    return {**schema, "components": document["components"]}


def test_no_request_body_is_a_bare_object(server: ThreadServer) -> None:
    document = document_of(server)
    schemas = document["components"]["schemas"]
    bare = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody", {}) if isinstance(operation, dict) else {}
            content = body.get("content", {})
            documented = content.get("application/json") or content.get(
                "application/x-www-form-urlencoded"
            )
            if documented is None:
                continue
            schema = documented["schema"]
            named = schemas[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema
            if named in BARE or ("properties" not in named and "anyOf" not in named):
                bare.append(f"{method} {path}")
    assert bare == []


def test_the_document_has_the_servers_limits_and_connectors(server: ThreadServer) -> None:
    schemas = document_of(server)["components"]["schemas"]
    settings = server.app.state["runtime"].settings
    connector = schemas["SenderUpdateRequest"]["properties"]["connector"]
    assert connector["enum"] == sorted(server.app.state["runtime"].connectors)
    url = schemas["SinkRequest"]["properties"]["url"]
    assert url["maxLength"] == settings.input.max_url_chars


def _checked(document: dict[str, Any]) -> Callable[[httpx.Request], None]:
    """A hook for the `api` client: each JSON body validates before it is sent."""

    def check(request: httpx.Request) -> None:
        assert_request_documented(document, request)

    return check


def _send_bodies(api: httpx.Client) -> list[dict[str, Any]]:
    template = ok(api.post("/Content", json=TEMPLATE), 201)["sid"]
    pool = ok(api.get("/SenderPools"))["senderPools"][0]["id"]
    several = {"addresses": [PHONE, {"address": "+14155550101", "channel": "whatsapp"}]}
    return [
        {
            "to": [{**PHONE, "variables": {"name": "Ann", "n": 3}}, several],
            "content": {"text": "Hi {{ name }}", "media": None},
            "from": {"senderPoolId": pool},
            "schedule": {"sendAt": "2030-01-01T09:00:00"},
            "callbacks": {"url": "http://127.0.0.1:9/cb"},
            "tags": {"campaign": "spring", "first": "{{ name | default: 'x' }}"},
        },
        {"to": [PHONE], "content": {"contentId": template, "variables": {"1": "you"}}},
        {
            "to": [PHONE],
            "content": {"modules": [{"sms": {"text": "Hi"}}, {"RCS": {"text": "Hi"}}]},
            "from": None,
            "tags": None,
        },
    ]


def test_bodies_in_every_form_validate_and_are_accepted(
    server: ThreadServer, api: httpx.Client
) -> None:
    document = document_of(server)
    api.event_hooks["request"].append(_checked(document))
    for body in _send_bodies(api):
        ok(api.post("/Messages", json=body), 202)
    ok(api.post("/Messages/Search", json={"tags": {"campaign": "spring"}, "status": None}))
    ok(api.post("/Messages/Search", json={"tags": "campaign:spring", "channel": "sms"}))
    made = {"address": f"{uuid.uuid4().hex}@example.com", "channel": "email"}
    extra = {"status": "deactivated", "fallbackTimeout": "5s", "displayName": None}
    sender = ok(api.post("/Senders", json={**made, **extra}), 201)["id"]
    changed = {"status": "ACTIVATED", "receiptWait": "1.5m", "connector": "simulator"}
    ok(api.patch(f"/Senders/{sender}", json=changed))
    ok(api.post("/Senders/Search", json={"address": made["address"], "pageSize": "5"}))
    pool = ok(api.post("/SenderPools", json={"name": "p", "default": False}), 202)["id"]
    ok(api.post(f"/SenderPools/{pool}/Senders", json={"senders": [{"senderId": sender}]}), 202)
    resolve = {
        "senderPoolId": None,
        "recipientAddresses": [PHONE],
        "channels": {"filterIn": ["sms", "RCS"], "priority": [{"channel": "RCS", "priority": 1}]},
    }
    ok(api.post("/Senders/Resolve", json=resolve))
    ok(api.post("/OptOuts", json={"address": "Someone@Example.com", "channel": "email"}), 201)
    ok(api.post("/ApiKeys", json={}), 201)
    card = {"title": "Hi", "actions": [{"type": "url", "title": "Go", "url": "https://x.io/{{1}}"}]}
    types = {"twilio/card": card, "twilio/text": None, "whatsapp/template": {"name": "order"}}
    content = {"friendly_name": None, "language": "pt_BR", "types": types, "sid": None}
    ok(api.post("/Content", json=content), 201)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/Messages", {"to": [PHONE] * 10_001, "content": {"text": "Hi"}}),
        ("/Messages", {"to": [{**PHONE, "channel": "FAX"}], "content": {"text": "Hi"}}),
        ("/Messages", {"to": [PHONE], "content": {"text": "Hi"}, "extra": 1}),
        ("/Messages", {"to": [{**PHONE, "address": "a@example.com"}], "content": {"text": "Hi"}}),
        ("/Messages", {"to": [{**PHONE, "address": "4155550100"}], "content": {"text": "Hi"}}),
        ("/Messages", {"to": [PHONE], "content": {}}),
        ("/Messages", {"to": [PHONE], "content": {"text": "Hi"}, "tags": {"a b": "c"}}),
        ("/Senders", {"address": "a@example.com", "channel": "EMAIL", "status": "ON"}),
        ("/Senders", {"address": "not a number", "channel": "WHATSAPP"}),
        ("/OptOuts", {"address": "4155550100"}),
        ("/SenderPools", {"name": "x" * 257}),
        ("/SenderPools", {"name": "a\x01b"}),
        ("/Messages", {"to": [{**PHONE, "address": "+14155550100\n"}], "content": {"text": "Hi"}}),
        ("/OptOuts", {"channel": "SMS"}),
        ("/Sinks", {"url": "ftp://example.com/"}),
        ("/Subscriptions", {"sinkId": "DG" + "0" * 32, "types": []}),
    ],
)
def test_a_body_the_schema_refuses_is_refused(
    server: ThreadServer, api: httpx.Client, path: str, body: dict[str, Any]
) -> None:
    schema = _schema_of(document_of(server), "POST", f"/v1{path}")
    assert not jsonschema.Draft202012Validator(schema).is_valid(body)
    assert api.post(path, json=body).status_code == 400
