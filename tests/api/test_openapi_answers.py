"""Every success the document describes, answered by a real server (both engines) and
checked against its schema: each resource listed, read, created, changed and deleted,
each 202 and the Seek's 301. A documented success that no request here reaches fails the
test, so a new route needs its schema and a request here. Each JSON body sent is first
validated against its documented request schema, and every operation documented with a
JSON body must be sent one here and accept it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support.openapi import (
    assert_documented,
    assert_request_documented,
    document_of,
    template_of,
)
from tests.support.polling import wait_completed, wait_until
from tests.support.server import ThreadServer

OPTED_OUT = "+14155550199"
SINK_URL = "http://127.0.0.1:9/hook"  # nothing listens: its deliveries fail, and are listed
TYPES = ("com.twilio.comms-api.message.sent", "com.twilio.comms-api.message.delivered")
ADDED_TYPE = "com.twilio.comms-api.message.failed"
TEMPLATE = {
    "friendly_name": "order",
    "language": "en",
    "variables": {"1": "there"},
    "types": {"twilio/text": {"body": "Hi {{1}}"}, "twilio/card": {"title": "Hi {{1}}"}},
}
# the same handlers serve /preview: its paths are covered by their /v1 twins
PREVIEW = "/preview/"
NOT_OURS = "/webhooks/"  # the connector's own answer, whatever it is


def ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, (answer.request.url, answer.text)
    return answer.json() if answer.content else None


def _later(seconds: int = 600) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def _email() -> str:
    return f"{uuid.uuid4().hex}@example.com"


def _sinks(api: httpx.Client) -> str:
    """A sink subscribed to operation and message events (the sends below make them)."""
    sink = ok(api.post("/Sinks", json={"url": SINK_URL, "description": "d"}), 201)
    assert "secret" in sink
    made = {"sinkId": sink["id"], "types": ["com.twilio.comms-api.*"]}
    subscription = ok(api.post("/Subscriptions", json=made), 201)
    ok(api.get("/Sinks"))
    ok(api.get(f"/Sinks/{sink['id']}"))
    ok(api.get("/Subscriptions"))
    ok(api.get(f"/Subscriptions/{subscription['id']}"))
    return str(sink["id"])


def _sink_deliveries(api: httpx.Client, sink_id: str) -> None:
    """Failed deliveries are listed; a replay is accepted; the sink goes."""
    wait_until(lambda: ok(api.get(f"/Sinks/{sink_id}/Deliveries"))["deliveries"])
    replay = {"startDate": "2020-01-01T00:00:00Z"}
    ok(api.post(f"/Sinks/{sink_id}/Replay", json=replay), 202)
    subscriptions = ok(api.get("/Subscriptions"))["subscriptions"]
    for subscription in subscriptions:
        ok(api.delete(f"/Subscriptions/{subscription['id']}"), 204)
    ok(api.delete(f"/Sinks/{sink_id}"), 204)


def _sent_messages(api: httpx.Client) -> None:
    """A send with a delivered and an opted-out (FAILED) recipient, read every way."""
    ok(api.post("/OptOuts", json={"address": OPTED_OUT, "channel": None}), 201)
    to = [
        {"address": "+14155550100", "channel": "PHONE"},
        {"address": OPTED_OUT, "channel": "PHONE"},
    ]
    sent = ok(api.post("/Messages", json={"to": to, "content": {"text": "Hi"}}), 202)
    operation_id = sent["operationId"]
    wait_completed(api, operation_id)
    listed = ok(api.get("/Messages", params={"operationId": operation_id}))["messages"]
    ok(api.post("/Messages/Search", json={"operationId": operation_id}))
    fetched = [ok(api.get(f"/Messages/{message['id']}")) for message in listed]
    attempt = next(attempt for message in fetched for attempt in message["attempts"])
    assert api.get(f"/Messages/Seek/{attempt['id']}").status_code == 301
    errors = ok(api.get(f"/Messages/Operations/{operation_id}/Errors"))["errors"]
    assert [error["code"] for error in errors] == [21610]
    ok(api.get("/Messages/Operations"))
    ok(api.get("/OptOuts"))
    ok(api.get(f"/OptOuts/{OPTED_OUT}"))
    ok(api.delete(f"/OptOuts/{OPTED_OUT}"), 204)


def _canceled_messages(api: httpx.Client) -> None:
    """A scheduled send: one of its Messages canceled, then the whole operation."""
    to = [{"address": f"+1415555012{n}", "channel": "PHONE"} for n in range(2)]
    body = {"to": to, "content": {"text": "Hi"}, "schedule": {"sendAt": [_later()]}}
    operation_id = ok(api.post("/Messages", json=body), 202)["operationId"]
    listed = wait_until(
        lambda: ok(api.get("/Messages", params={"operationId": operation_id}))["messages"]
    )
    ok(api.post(f"/Messages/{listed[0]['id']}/Cancel"))
    ok(api.post(f"/Messages/Operations/{operation_id}/Cancel"))


def _senders(api: httpx.Client) -> None:
    """Two email senders, a pool of them, searched and resolved, then removed."""
    first = ok(api.post("/Senders", json={"address": _email(), "channel": "EMAIL"}), 201)
    second = ok(api.post("/Senders", json={"address": _email(), "channel": "EMAIL"}), 201)
    ok(api.get("/Senders"))
    ok(api.get(f"/Senders/{first['id']}"))
    ok(api.post(f"/Senders/{first['id']}", json={"displayName": "Desk"}))
    ok(api.patch(f"/Senders/{first['id']}", json={"tags": {"team": "ops"}}))
    ok(api.post("/Senders/Search", json={"channel": "EMAIL"}))
    made = ok(api.post("/SenderPools", json={"name": "p", "senders": [first["id"]]}), 202)
    pool_id = made["id"]
    added = ok(api.post(f"/SenderPools/{pool_id}/Senders", json=[second["id"]]), 202)
    ok(api.get("/SenderPools"))
    ok(api.get(f"/SenderPools/{pool_id}"))
    ok(api.post(f"/SenderPools/{pool_id}", json={"name": "q"}))
    ok(api.patch(f"/SenderPools/{pool_id}", json={"tags": {"team": "ops"}}))
    ok(api.get(f"/SenderPools/{pool_id}/Senders"))
    ok(api.get("/SenderPools/Operations"))
    ok(api.get(f"/SenderPools/Operations/{added['operationId']}"))
    to = [{"address": "someone@example.com", "channel": "EMAIL"}]
    resolved = ok(
        api.post("/Senders/Resolve", json={"senderPoolId": pool_id, "recipientAddresses": to})
    )
    assert len(resolved["results"]) == 2
    ok(api.delete(f"/SenderPools/{pool_id}/Senders/{second['id']}"), 204)
    ok(api.delete(f"/SenderPools/{pool_id}"), 204)
    for sender in (first, second):
        ok(api.delete(f"/Senders/{sender['id']}"), 204)


def _account(api: httpx.Client) -> None:
    """The account, an API key (its secret once), and a content template."""
    ok(api.get("/Account"))
    key = ok(api.post("/ApiKeys", json={"friendlyName": "k"}), 201)
    assert "secret" in key
    assert "secret" not in ok(api.get("/ApiKeys"))["keys"][0]
    ok(api.delete(f"/ApiKeys/{key['sid']}"), 204)
    content = ok(api.post("/Content", json=TEMPLATE), 201)
    ok(api.get("/Content"))
    ok(api.get(f"/Content/{content['sid']}"))
    ok(api.delete(f"/Content/{content['sid']}"), 204)


def _event_sinks(events: httpx.Client) -> str:
    """A sink in Twilio's dialect: made, listed, read, changed, tested and validated."""
    configuration = json.dumps({"destination": SINK_URL, "method": "post"})
    form = {"Description": "d", "SinkType": "webhook", "SinkConfiguration": configuration}
    sid = ok(events.post("/Sinks", data=form), 201)["sid"]
    ok(events.get("/Sinks"))
    ok(events.get(f"/Sinks/{sid}"))
    ok(events.post(f"/Sinks/{sid}", data={"Description": "e"}))
    tested = ok(events.post(f"/Sinks/{sid}/Test"), 201)
    ok(events.post(f"/Sinks/{sid}/Validate", data={"TestId": tested["opencomms"]["test_id"]}), 201)
    return str(sid)


def _event_subscriptions(events: httpx.Client, sink_sid: str) -> None:
    """A subscription and its subscribed events, every call of each, then gone."""
    types = [json.dumps({"type": t}) for t in TYPES]
    form = {"Description": "d", "SinkSid": sink_sid, "Types": types}
    sid = ok(events.post("/Subscriptions", data=form), 201)["sid"]
    ok(events.get("/Subscriptions"))
    ok(events.get(f"/Subscriptions/{sid}"))
    ok(events.post(f"/Subscriptions/{sid}", data={"Description": "e"}))
    subscribed = f"/Subscriptions/{sid}/SubscribedEvents"
    ok(events.get(subscribed))
    added = ok(events.post(subscribed, data={"Type": ADDED_TYPE}), 201)
    ok(events.get(f"{subscribed}/{ADDED_TYPE}"))
    version = str(added["schema_version"])
    ok(events.post(f"{subscribed}/{ADDED_TYPE}", data={"SchemaVersion": version}))
    ok(events.delete(f"{subscribed}/{ADDED_TYPE}"), 204)
    ok(events.delete(f"/Subscriptions/{sid}"), 204)
    ok(events.delete(f"/Sinks/{sink_sid}"), 204)


def _answers(
    server: ThreadServer, account: tuple[str, str], document: dict[str, Any]
) -> list[httpx.Response]:
    """Every answer given to the calls above, and to /healthz; each JSON body is checked
    against the document before it is sent."""
    answers: list[httpx.Response] = []

    def check(request: httpx.Request) -> None:
        request.extensions["body_checked"] = assert_request_documented(document, request)

    def keep(response: httpx.Response) -> None:
        response.read()
        answers.append(response)

    def client(prefix: str) -> httpx.Client:
        hooks = {"request": [check], "response": [keep]}
        return httpx.Client(
            base_url=server.url + prefix, auth=account, timeout=30, event_hooks=hooks
        )

    with client("/v1") as api, client("/events/v1") as events, client("") as root:
        sink_id = _sinks(api)
        _sent_messages(api)
        _canceled_messages(api)
        _sink_deliveries(api, sink_id)
        _senders(api)
        _account(api)
        _event_subscriptions(events, _event_sinks(events))
        ok(root.get("/healthz"))
    return answers


def _documented_successes(document: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(method, path template, status) of each success (2xx, 3xx) in the document."""
    return {
        (method.upper(), path, status)
        for path, item in document["paths"].items()
        if not path.startswith((PREVIEW, NOT_OURS))
        for method, operation in item.items()
        if isinstance(operation, dict)
        for status in operation.get("responses", {})
        if status[0] in "23"
    }


def _documented_bodies(document: dict[str, Any]) -> set[tuple[str, str]]:
    """(method, path template) of each operation that takes a JSON body, or a form with
    parameters (Twilio's `/Sinks/{sid}/Test` takes an empty one)."""
    schemas = document["components"]["schemas"]

    def takes_a_body(operation: dict[str, Any]) -> bool:
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            return True
        form = content.get("application/x-www-form-urlencoded")
        return form is not None and bool(schemas[_name(form["schema"])]["properties"])

    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        if not path.startswith(PREVIEW)
        for method, operation in item.items()
        if isinstance(operation, dict) and takes_a_body(operation)
    }


def _name(schema: dict[str, Any]) -> str:
    return str(schema["$ref"]).rsplit("/", 1)[1]


def test_every_documented_success_is_answered_as_documented(
    server: ThreadServer, account: tuple[str, str]
) -> None:
    document = document_of(server)
    answers = _answers(server, account, document)
    for answer in answers:
        assert_documented(document, answer)
    answered = {
        (
            a.request.method,
            template_of(document, a.request.method, a.request.url.path),
            str(a.status_code),
        )
        for a in answers
    }
    assert sorted(_documented_successes(document) - answered) == []
    accepted_bodies = {
        (a.request.method, template_of(document, a.request.method, a.request.url.path))
        for a in answers
        if a.request.extensions["body_checked"] and a.is_success
    }
    assert sorted(_documented_bodies(document) - accepted_bodies) == []
