"""`/v1/openapi.json` and `/docs`: the document names every route of the app, and what
the real server answers (successes and errors, both engines) validates against it."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import jsonschema
import pytest
from litestar.routes import HTTPRoute

from tests.support.polling import wait_completed
from tests.support.server import ThreadServer

SEND = {"to": [{"address": "+14155550100", "channel": "PHONE"}], "content": {"text": "Hi"}}
UNKNOWN_MESSAGE = "comms_message_01h9krwprkeee8fzqspvwy6nq8"
SINK_CONFIGURATION = json.dumps(
    {"destination": "http://127.0.0.1:9/hook", "method": "post", "batch_events": True}
)


def document_of(server: ThreadServer) -> dict[str, Any]:
    answer = httpx.get(server.url + "/v1/openapi.json")  # public: no credentials
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


def operation_for(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    """The operation whose path template matches the concrete `path`."""
    for template, item in document["paths"].items():
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", template)
        if re.fullmatch(pattern, path) and method.lower() in item:
            operation: dict[str, Any] = item[method.lower()]
            return operation
    raise AssertionError(f"{method} {path} is not in the document")


def assert_documented(document: dict[str, Any], answer: httpx.Response) -> None:
    """The answer's status is documented for its operation and its body fits the schema."""
    request = answer.request
    operation = operation_for(document, request.method, request.url.path)
    status = str(answer.status_code)
    responses = operation["responses"]
    assert status in responses, (request.method, request.url.path, status, answer.text)
    content = responses[status].get("content")
    if not content:
        assert answer.content == b"", answer.text
        return
    media_type = answer.headers["content-type"].split(";")[0]
    assert media_type in content or "*/*" in content, (media_type, list(content))
    schema = (content.get(media_type) or content["*/*"])["schema"]
    if media_type == "application/json":
        rooted = {**schema, "components": document["components"]}
        jsonschema.Draft202012Validator(rooted).validate(answer.json())


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
