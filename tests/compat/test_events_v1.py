"""twilio-python's `client.events.v1` (sinks, sink test and validate, subscriptions,
subscribed events), unchanged, against opencomms on both engines, and its
`RequestValidator` on the callbacks a sink made that way receives.

The client is pointed at the server the way twilio-python allows for one domain: its
`base_url` (`client.events.base_url = "http://HOST:PORT/events"`); every request it then
builds is its own (form-encoded, PascalCase parameters, its paging by `next_page_url`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.rest.events.v1.sink import SinkInstance

from tests.compat.conftest import LocalHttpClient
from tests.events.helpers import posted_batches, wait_for_events
from tests.support.polling import send, wait_completed
from tests.support.server import ThreadServer

SINK_SID = re.compile(r"DG[0-9a-f]{32}\Z")
SUBSCRIPTION_SID = re.compile(r"DF[0-9a-f]{32}\Z")
P = "com.twilio.comms-api."
DELIVERED = P + "message.delivered"


@pytest.fixture
def client(server: ThreadServer, account: tuple[str, str]) -> Client:
    """twilio-python's Client for a fresh account, its Event Streams domain on the server."""
    twilio = Client(*account)
    twilio.events.base_url = f"{server.url}/events"
    return twilio


@pytest.fixture
def receiver() -> Iterator[HTTPServer]:
    server = HTTPServer(host="localhost", port=0)
    server.expect_request("/hook", method="POST").respond_with_data("ok")
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()


def test_a_custom_http_client_reaches_it_too(twilio_client: Client, receiver: HTTPServer) -> None:
    """The other documented hook: an `http_client` that sends Twilio's hosts here
    (tests/compat/conftest.py), `events.twilio.com` to `/events`."""
    made = webhook(twilio_client, receiver.url_for("/hook"))

    assert [s.sid for s in twilio_client.events.v1.sinks.list()] == [made.sid]
    http = twilio_client.http_client
    assert isinstance(http, LocalHttpClient)
    assert all("/events/v1/Sinks" in url for url in http.urls)


def webhook(client: Client, url: str, description: str = "hooks") -> SinkInstance:
    return client.events.v1.sinks.create(
        description=description,
        sink_configuration={"destination": url, "method": "POST", "batch_events": True},
        sink_type="webhook",
    )


def test_a_sink_is_created_fetched_listed_updated_and_deleted(
    client: Client, receiver: HTTPServer
) -> None:
    sinks = client.events.v1.sinks
    made = webhook(client, receiver.url_for("/hook"), "first")
    others = [webhook(client, receiver.url_for(f"/other{n}"), f"n{n}").sid for n in range(2)]

    fetched = sinks(made.sid).fetch()
    updated = sinks(made.sid).update(description="renamed")
    listed = sinks.list(page_size=2)  # two pages, by next_page_url

    assert SINK_SID.match(made.sid or "")
    assert (fetched.sid, fetched.description, fetched.sink_type) == (made.sid, "first", "webhook")
    assert fetched.status == "active"
    assert fetched.sink_configuration == {
        "destination": receiver.url_for("/hook"),
        "method": "POST",
        "batch_events": True,
    }
    assert fetched.url is not None and fetched.url.endswith(f"/events/v1/Sinks/{made.sid}")
    assert fetched.links == {
        "sink_test": f"{fetched.url}/Test",
        "sink_validate": f"{fetched.url}/Validate",
    }
    assert fetched.date_created is not None and fetched.date_updated is not None
    assert updated.description == "renamed" and sinks(made.sid).fetch().description == "renamed"
    assert [s.sid for s in listed] == [*others[::-1], made.sid]
    assert made.delete() is True
    with pytest.raises(TwilioRestException) as gone:
        sinks(made.sid).fetch()
    assert gone.value.status == 404
    assert [s.sid for s in sinks.list()] == others[::-1]


def test_the_sink_list_filters_as_twilios_does(client: Client, receiver: HTTPServer) -> None:
    used = webhook(client, receiver.url_for("/hook"))
    unused = webhook(client, receiver.url_for("/unused"))
    client.events.v1.subscriptions.create(
        description="d", sink_sid=used.sid, types=[{"type": DELIVERED, "schema_version": 4}]
    )

    assert [s.sid for s in client.events.v1.sinks.list(in_use=True)] == [used.sid]
    assert [s.sid for s in client.events.v1.sinks.list(in_use=False)] == [unused.sid]
    assert len(client.events.v1.sinks.list(status="active")) == 2
    assert client.events.v1.sinks.list(status="failed") == []


def valid_twilio_signature(request: Any, auth_token: str) -> bool:
    """What a Twilio client checks on a callback: `X-Twilio-Signature`, with
    twilio-python's own `RequestValidator` (JSON bodies: `bodySHA256` in the URL)."""
    body = request.get_data().decode()
    signature = request.headers["X-Twilio-Signature"]
    return bool(RequestValidator(auth_token).validate(request.url, body, signature))


def test_sink_test_posts_a_signed_test_event_and_validate_answers_valid(
    client: Client, account: tuple[str, str], receiver: HTTPServer
) -> None:
    sink = webhook(client, receiver.url_for("/hook"))

    tested = client.events.v1.sinks(sink.sid).sink_test.create()
    (event,) = wait_for_events(receiver, 1)
    validated = client.events.v1.sinks(sink.sid).sink_validate.create(
        test_id=event["data"]["test_id"]
    )

    assert tested.result == "submitted"
    assert (event["type"], event["data"]["sink_sid"]) == ("opencomms.sink.test", sink.sid)
    assert event["dataschema"] and event["specversion"] == "1.0"
    assert validated.result == "valid"
    ((request, _),) = posted_batches(receiver)
    assert valid_twilio_signature(request, account[1])
    assert not valid_twilio_signature(request, "0" * 32)  # another token does not verify


def test_a_subscription_is_created_fetched_listed_updated_and_deleted(
    client: Client, receiver: HTTPServer
) -> None:
    sink = webhook(client, receiver.url_for("/hook"))
    other = webhook(client, receiver.url_for("/other"))
    subscriptions = client.events.v1.subscriptions
    types = [{"type": DELIVERED, "schema_version": 4}, {"type": P + "operation.completed"}]

    made = subscriptions.create(description="status", sink_sid=sink.sid, types=types)
    elsewhere = subscriptions.create(
        description="x", sink_sid=other.sid, types=[{"type": P + "message.failed"}]
    )
    fetched = subscriptions(made.sid).fetch()
    updated = subscriptions(made.sid).update(description="renamed")

    assert SUBSCRIPTION_SID.match(made.sid or "")
    assert (fetched.sid, fetched.sink_sid, fetched.description) == (made.sid, sink.sid, "status")
    assert fetched.account_sid == client.account_sid
    assert fetched.url is not None and fetched.url.endswith(f"/events/v1/Subscriptions/{made.sid}")
    assert fetched.links == {"subscribed_events": f"{fetched.url}/SubscribedEvents"}
    assert updated.description == "renamed"
    assert [s.sid for s in subscriptions.list()] == [elsewhere.sid, made.sid]
    assert [s.sid for s in subscriptions.list(sink_sid=sink.sid)] == [made.sid]
    assert [s.sid for s in subscriptions.list(page_size=1)] == [elsewhere.sid, made.sid]
    assert made.delete() is True
    with pytest.raises(TwilioRestException) as gone:
        subscriptions(made.sid).fetch()
    assert gone.value.status == 404


def test_subscribed_events_list_add_update_and_remove_types(
    client: Client, receiver: HTTPServer
) -> None:
    sink = webhook(client, receiver.url_for("/hook"))
    made = client.events.v1.subscriptions.create(
        description="d", sink_sid=sink.sid, types=[{"type": DELIVERED}]
    )
    events = client.events.v1.subscriptions(made.sid).subscribed_events

    added = events.create(type=P + "message.failed", schema_version=4)
    listed = events.list()
    fetched = events(DELIVERED).fetch()
    kept = events(DELIVERED).update(schema_version=4)
    with pytest.raises(TwilioRestException) as older:
        events(DELIVERED).update(schema_version=1)
    removed = events(P + "message.failed").delete()

    assert (added.type, added.schema_version, added.subscription_sid) == (
        P + "message.failed", 4, made.sid
    )  # fmt: skip
    assert sorted(e.type for e in listed) == [DELIVERED, P + "message.failed"]
    assert (fetched.type, fetched.schema_version, fetched.account_sid) == (
        DELIVERED, 4, client.account_sid
    )  # fmt: skip
    assert fetched.url is not None and fetched.url.endswith(f"/SubscribedEvents/{DELIVERED}")
    assert kept.schema_version == 4
    assert older.value.status == 400 and "version 4" in str(older.value.msg)
    assert removed is True
    assert [e.type for e in events.list()] == [DELIVERED]
    with pytest.raises(TwilioRestException) as unknown:
        events(P + "message.read").fetch()
    assert unknown.value.status == 404


def test_a_subscription_made_with_the_client_brings_signed_callbacks_in_twilios_shapes(
    client: Client, account: tuple[str, str], api: httpx.Client, receiver: HTTPServer
) -> None:
    sink = webhook(client, receiver.url_for("/hook"))
    client.events.v1.subscriptions.create(
        description="delivered and completed",
        sink_sid=sink.sid,
        types=[{"type": DELIVERED, "schema_version": 4}, {"type": P + "operation.completed"}],
    )
    to = {"address": "+14155550100", "channel": "PHONE"}  # delivered, then read, on RCS

    operation_id = send(api, {"to": [to], "content": {"text": "Hi"}, "tags": {"k": "v"}})
    wait_completed(api, operation_id)
    events = wait_for_events(receiver, 2)

    by_type = {e["type"]: e for e in events}
    assert set(by_type) == {DELIVERED, P + "operation.completed"}
    completed = by_type[P + "operation.completed"]
    assert completed["data"] == {"operation_id": operation_id}
    assert (
        completed["dataschema"] == "https://events-schemas.twilio.com/CommsApi.OperationCompleted/2"
    )
    delivered = by_type[DELIVERED]
    assert (
        delivered["dataschema"] == "https://events-schemas.twilio.com/CommsApi.MessageDelivered/4"
    )
    data = delivered["data"]
    assert (data["operation_id"], data["account_sid"], data["attempt"]) == (
        operation_id, account[0], "1"
    )  # fmt: skip
    assert data["downstream_id"].startswith("SM") and data["message_id"].startswith(
        "comms_message_"
    )
    assert data["to"] == to and data["tags"] == {"k": "v"}
    assert set(data["from"]) == {"id", "address", "channel"} and data["from"]["channel"] == "RCS"
    assert "opencomms" not in data  # nothing of ours to add to a delivery
    for request, _ in posted_batches(receiver):
        assert valid_twilio_signature(request, account[1])


def test_both_dialects_see_the_same_sinks_and_subscriptions(
    client: Client, api: httpx.Client, receiver: HTTPServer
) -> None:
    made = webhook(client, receiver.url_for("/hook"))
    ours = api.post("/Sinks", json={"url": receiver.url_for("/json"), "description": "json"})
    assert ours.status_code == 201, ours.text
    api.post("/Subscriptions", json={"sinkId": ours.json()["id"], "types": [P + "message.*"]})

    listed = {s["id"]: s for s in api.get("/Sinks").json()["sinks"]}
    twilio_view = client.events.v1.sinks(ours.json()["id"]).fetch()
    (subscription,) = client.events.v1.subscriptions.list(sink_sid=ours.json()["id"])
    types = client.events.v1.subscriptions(subscription.sid).subscribed_events.list()

    assert listed[made.sid]["url"] == receiver.url_for("/hook")
    assert listed[made.sid]["status"] == "ACTIVE"
    assert twilio_view.sink_configuration["destination"] == receiver.url_for("/json")
    assert subscription.description == ""
    # a `prefix*` pattern shows as the types it selects
    assert [t.type for t in types] == [
        P + f"message.{s}"
        for s in ("queued", "sent", "delivered", "read", "undelivered", "failed", "canceled")
    ] + [P + "message.inbound-received"]


def form(client: httpx.Client, path: str, data: Any) -> httpx.Response:
    return client.post(path, data=data)


@pytest.fixture
def events_api(server: ThreadServer, account: tuple[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url + "/events/v1", auth=account, timeout=30) as http:
        yield http


def problems(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 400, response.text
    return {error["field"]: error["message"] for error in response.json()["errors"]}


def test_a_bad_sink_lists_every_problem_and_makes_nothing(events_api: httpx.Client) -> None:
    configuration = {
        "destination": "http://169.254.169.254/latest/meta-data/",
        "method": "GET",
        "batch_events": "no",
        "arn": "x",
    }
    found = problems(
        form(
            events_api,
            "/Sinks",
            {"SinkType": "kinesis", "SinkConfiguration": json.dumps(configuration), "Extra": "1"},
        )
    )
    assert set(found) == {"Extra"}  # an unknown parameter stops the request first
    found = problems(
        form(
            events_api,
            "/Sinks",
            {"SinkType": "kinesis", "SinkConfiguration": json.dumps(configuration)},
        )
    )
    assert set(found) == {
        "Description",
        "SinkType",
        "SinkConfiguration.method",
        "SinkConfiguration.batch_events",
        "SinkConfiguration.arn",
        "SinkConfiguration.destination",
    }
    assert events_api.get("/Sinks").json()["sinks"] == []
    assert events_api.post("/Sinks", json={"Description": "x"}).status_code == 415


def test_a_bad_subscription_lists_every_problem_and_makes_nothing(
    events_api: httpx.Client, client: Client, receiver: HTTPServer
) -> None:
    sink = webhook(client, receiver.url_for("/hook"))
    types = [
        json.dumps({"type": P + "message.*"}),  # no patterns in Twilio's dialect
        json.dumps({"type": DELIVERED, "schema_version": 2}),
        "not json",
        json.dumps({"type": P + "message.sent"}),
        json.dumps({"type": P + "message.sent"}),
    ]
    found = problems(
        form(events_api, "/Subscriptions", {"SinkSid": "DG" + "0" * 32, "Types": types})
    )
    assert set(found) == {"Description", "Types[0]", "Types[1]", "Types[2]", "Types[4]", "SinkSid"}
    assert "version 4" in found["Types[1]"]
    assert events_api.get("/Subscriptions").json()["subscriptions"] == []
    made = form(
        events_api, "/Subscriptions", {"Description": "ok", "SinkSid": sink.sid, "Types": types[3]}
    )
    assert made.status_code == 201, made.text
