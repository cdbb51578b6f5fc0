"""`/events/v1`, Twilio's Event Streams dialect, over raw HTTP on both engines: what a
client other than twilio-python may send (tests/compat/test_events_v1.py runs
twilio-python itself), bad input answered with every problem, and other accounts' sinks
out of reach."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer

from tests.events.helpers import assert_signed, posted_batches, wait_for_events
from tests.support.polling import send, wait_completed, wait_until
from tests.support.server import ThreadServer

P = "com.twilio.comms-api."
WEBHOOK = json.dumps({"destination": "", "method": "POST", "batch_events": True})


@pytest.fixture
def events_api(server: ThreadServer, account: tuple[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url + "/events/v1", auth=account, timeout=30) as http:
        yield http


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


def configuration(url: str) -> str:
    return json.dumps({"destination": url, "method": "post", "batch_events": True})


def make_sink(events_api: httpx.Client, url: str) -> dict[str, Any]:
    made = events_api.post(
        "/Sinks",
        data={"Description": "d", "SinkType": "webhook", "SinkConfiguration": configuration(url)},
    )
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


def subscribe(client: httpx.Client, sink_sid: str, *types: str) -> httpx.Response:
    body = {
        "Description": "d",
        "SinkSid": sink_sid,
        "Types": [json.dumps({"type": t}) for t in types],
    }
    return client.post("/Subscriptions", data=body)


def problems(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 400, response.text
    return {error["field"]: error["message"] for error in response.json()["errors"]}


def test_callbacks_of_a_sink_made_here_verify_with_both_signatures(
    events_api: httpx.Client, api: httpx.Client, account: tuple[str, str], receiver: HTTPServer
) -> None:
    """The 201 shows our Standard Webhooks secret under `opencomms`, once."""
    sink = make_sink(events_api, receiver.url_for("/hook"))
    subscribed = subscribe(events_api, sink["sid"], P + "operation.completed")
    assert subscribed.status_code == 201, subscribed.text

    to = [{"address": "+14155550100", "channel": "PHONE"}]
    operation_id = send(api, {"to": to, "content": {"text": "Hi"}})
    wait_completed(api, operation_id)
    (event,) = wait_for_events(receiver, 1)

    assert sink["opencomms"]["secret"].startswith("whsec_")
    assert sink["sink_configuration"]["method"] == "POST"  # as given, "post", in Twilio's case
    assert "secret" not in events_api.get(f"/Sinks/{sink['sid']}").json()["opencomms"]
    assert event["data"] == {"operation_id": operation_id}
    for request, _ in posted_batches(receiver):
        assert_signed(request, account[1], sink["opencomms"]["secret"])


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ({"PageSize": "0"}, {"pageSize"}),
        ({"PageToken": "forged"}, {"pageToken"}),
        ({"Page": "-1"}, {"Page"}),
        ({"InUse": "yes", "Status": "gone"}, {"InUse", "Status"}),
        ({"status": "active", "sinkSid": "DG1"}, {"status", "sinkSid"}),
        ({"InUse": "maybe", "Limit": "5"}, {"InUse", "Limit"}),
    ],
)
def test_a_bad_sink_list_query_is_a_400_naming_each_problem(
    events_api: httpx.Client, query: dict[str, str], fields: set[str]
) -> None:
    assert set(problems(events_api.get("/Sinks", params=query))) == fields


def test_a_page_token_continues_only_its_own_list(
    events_api: httpx.Client, receiver: HTTPServer
) -> None:
    for n in range(3):
        make_sink(events_api, receiver.url_for(f"/hook{n}"))
    first = events_api.get("/Sinks", params={"PageSize": 2}).json()
    token = httpx.URL(first["meta"]["next_page_url"]).params["PageToken"]

    following = events_api.get(first["meta"]["next_page_url"]).json()
    elsewhere = events_api.get(
        "/Sinks", params={"PageSize": 2, "InUse": "true", "PageToken": token}
    )

    assert len(first["sinks"]) == 2 and len(following["sinks"]) == 1
    assert following["meta"]["page"] == 1 and following["meta"]["next_page_url"] is None
    assert set(problems(elsewhere)) == {"pageToken"}


def test_missing_and_malformed_parameters_are_400s(
    events_api: httpx.Client, receiver: HTTPServer
) -> None:
    sink = make_sink(events_api, receiver.url_for("/hook"))
    sid = sink["sid"]

    assert set(problems(events_api.post(f"/Sinks/{sid}", data={}))) == {"Description"}
    assert set(problems(events_api.post(f"/Sinks/{sid}/Validate", data={}))) == {"TestId"}
    assert set(problems(events_api.post("/Subscriptions", data={"Description": "d"}))) == {
        "Types",
        "SinkSid",
    }
    twice = events_api.post(
        "/Sinks", data={"Description": ["a", "b"], "SinkType": "webhook", "SinkConfiguration": "[]"}
    )
    assert set(problems(twice)) == {"Description", "SinkConfiguration"}
    assert events_api.post(f"/Sinks/{sid}", json={"Description": "x"}).status_code == 415
    assert events_api.get(f"/Sinks/{sid}").json()["description"] == "d"  # nothing changed


def test_a_subscribed_event_cannot_be_added_twice_or_all_removed(
    events_api: httpx.Client, receiver: HTTPServer
) -> None:
    sink = make_sink(events_api, receiver.url_for("/hook"))
    made = subscribe(events_api, sink["sid"], P + "message.read").json()
    events = f"/Subscriptions/{made['sid']}/SubscribedEvents"

    again = events_api.post(events, data={"Type": P + "message.read"})
    unknown = events_api.post(events, data={"Type": P + "message.opened"})
    version = events_api.post(events, data={"Type": P + "message.sent", "SchemaVersion": "x"})
    last = events_api.delete(f"{events}/{P}message.read")

    assert problems(again) == {"Type": "is subscribed already"}
    assert set(problems(unknown)) == {"Type"}
    assert set(problems(version)) == {"SchemaVersion"}
    assert set(problems(last)) == {"Type"}
    assert [t["type"] for t in events_api.get(events).json()["types"]] == [P + "message.read"]


def test_another_accounts_sinks_and_subscriptions_are_404s(
    server: ThreadServer, events_api: httpx.Client, receiver: HTTPServer
) -> None:
    sink = make_sink(events_api, receiver.url_for("/hook"))
    made = subscribe(events_api, sink["sid"], P + "message.read").json()
    with httpx.Client(
        base_url=server.url + "/events/v1", auth=server.new_account(), timeout=30
    ) as other:
        assert other.get(f"/Sinks/{sink['sid']}").status_code == 404
        assert other.post(f"/Sinks/{sink['sid']}", data={"Description": "x"}).status_code == 404
        assert other.post(f"/Sinks/{sink['sid']}/Test").status_code == 404
        assert other.delete(f"/Sinks/{sink['sid']}").status_code == 404
        assert other.get(f"/Subscriptions/{made['sid']}").status_code == 404
        assert other.get(f"/Subscriptions/{made['sid']}/SubscribedEvents").status_code == 404
        assert other.get("/Sinks").json()["sinks"] == []
        theirs = subscribe(other, sink["sid"], P + "message.read")
        assert set(problems(theirs)) == {"SinkSid"}
    assert events_api.get(f"/Sinks/{sink['sid']}").status_code == 200
    assert events_api.get("/Sinks/not-a-sid").status_code == 404


def test_a_callbacks_url_sink_takes_no_subscription(
    events_api: httpx.Client, api: httpx.Client, receiver: HTTPServer
) -> None:
    send(api, {"to": [{"address": "+14155550100", "channel": "PHONE"}], "content": {"text": "Hi"},
               "callbacks": {"url": receiver.url_for("/hook")}})  # fmt: skip
    (callback,) = events_api.get("/Sinks").json()["sinks"]

    refused = subscribe(events_api, callback["sid"], P + "message.read")

    assert callback["opencomms"] == {"kind": "callback"}
    assert "callbacks.url" in problems(refused)["SinkSid"]


def test_what_the_database_cannot_store_is_a_400_and_never_reaches_it(
    events_api: httpx.Client, receiver: HTTPServer
) -> None:
    sink = make_sink(events_api, receiver.url_for("/hook"))

    nul = events_api.post(f"/Sinks/{sink['sid']}", data={"Description": "a\x00b"})
    listed = events_api.get("/Subscriptions", params={"SinkSid": "DG\x00"})
    made = events_api.post(
        "/Sinks",
        data={
            "Description": "\x00",
            "SinkType": "webhook",
            "SinkConfiguration": configuration(receiver.url_for("/nul")),
        },
    )

    assert "NUL" in problems(nul)["Description"]
    assert set(problems(listed)) == {"SinkSid"}
    assert set(problems(made)) == {"Description"}
    assert events_api.get(f"/Sinks/{sink['sid']}").json()["description"] == "d"
    assert len(events_api.get("/Sinks").json()["sinks"]) == 1


def test_a_form_encoded_sink_under_v1_is_told_where_twilios_dialect_is(api: httpx.Client) -> None:
    for path in ("/Sinks", "/Subscriptions"):
        refused = api.post(path, data={"Description": "d"})
        assert refused.status_code == 415
        assert f"/events/v1{path}" in refused.json()["message"]


def test_every_unknown_filter_of_every_list_is_named_in_one_400(
    events_api: httpx.Client, receiver: HTTPServer
) -> None:
    sink = make_sink(events_api, receiver.url_for("/hook"))
    made = subscribe(events_api, sink["sid"], P + "operation.completed")
    assert made.status_code == 201, made.text
    lists = ["/Sinks", "/Subscriptions", f"/Subscriptions/{made.json()['sid']}/SubscribedEvents"]
    unknown = {"profile": "p", "sink_sid": "x"}

    for path in lists:
        assert set(problems(events_api.get(path, params=unknown))) == set(unknown), path
        paged = {"PageSize": "5", "Page": "0"}
        assert events_api.get(path, params=paged).status_code == 200, path


def test_a_bad_subscription_filter_and_an_unknown_one_are_named_together(
    events_api: httpx.Client,
) -> None:
    refused = events_api.get("/Subscriptions", params={"SinkSid": "DG1", "Sink": "DG1"})

    assert set(problems(refused)) == {"SinkSid", "Sink"}


def test_documented_filters_still_filter(events_api: httpx.Client, receiver: HTTPServer) -> None:
    used, unused = (make_sink(events_api, receiver.url_for(f"/hook{n}")) for n in range(2))
    made = subscribe(events_api, used["sid"], P + "operation.completed")
    assert made.status_code == 201, made.text

    in_use = events_api.get("/Sinks", params={"InUse": "true", "PageSize": "5"}).json()
    by_sink = events_api.get("/Subscriptions", params={"SinkSid": unused["sid"]}).json()

    assert [s["sid"] for s in in_use["sinks"]] == [used["sid"]]
    assert by_sink["subscriptions"] == []


LIFECYCLE = [P + "message.queued", P + "message.sent", P + "message.delivered"]


def test_a_sink_that_does_not_batch_gets_each_event_alone_signed_in_order(
    events_api: httpx.Client, api: httpx.Client, account: tuple[str, str], receiver: HTTPServer
) -> None:
    """Twilio's example sink (`batch_events: false`): one CloudEvent object per POST."""
    unbatched = {"destination": receiver.url_for("/hook"), "method": "POST", "batch_events": False}
    made = events_api.post(
        "/Sinks",
        data={
            "Description": "d",
            "SinkType": "webhook",
            "SinkConfiguration": json.dumps(unbatched),
        },
    )
    assert made.status_code == 201, made.text
    sink = made.json()
    assert sink["sink_configuration"]["batch_events"] is False
    assert (
        events_api.get(f"/Sinks/{sink['sid']}").json()["sink_configuration"]
        == (sink["sink_configuration"])
    )
    assert subscribe(events_api, sink["sid"], *LIFECYCLE).status_code == 201

    to = [{"address": f"+1415555010{n}", "channel": "PHONE"} for n in range(3)]
    wait_completed(api, send(api, {"to": to, "content": {"text": "Hi"}}))

    def bodies() -> list[Any] | None:
        found = [json.loads(request.get_data()) for request, _ in posted_batches(receiver)]
        return found if len({b["id"] for b in found}) >= 3 * len(LIFECYCLE) else None

    posted = wait_until(bodies, 60)
    assert all(isinstance(body, dict) for body in posted)  # never an array
    by_message: dict[str, list[str]] = {}
    for body in {b["id"]: b for b in posted}.values():  # at least once: ids tell repeats
        by_message.setdefault(body["source"], []).append(body["type"])
    assert len(by_message) == 3
    assert all(types == LIFECYCLE for types in by_message.values()), by_message
    for request, _ in posted_batches(receiver):
        assert_signed(request, account[1], sink["opencomms"]["secret"])
