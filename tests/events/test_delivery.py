"""Status callbacks end to end: sinks, subscriptions, signed CloudEvents batches, retries."""

from __future__ import annotations

import collections
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from opencomms.settings import EventSettings, ServerSettings, Settings
from tests.events.helpers import (
    assert_signed,
    delivered_events,
    make_sink,
    posted_batches,
    wait_for_events,
)
from tests.support.polling import send, wait_completed, wait_until
from tests.support.server import ThreadServer

PREFIX = "com.twilio.comms-api."


def phone(ending: str) -> dict[str, str]:
    return {"address": f"+1415555{ending}", "channel": "PHONE"}


@pytest.fixture
def receiver(httpserver: HTTPServer) -> HTTPServer:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    return httpserver


def test_every_status_change_arrives_signed_and_tied_to_its_message(
    api: httpx.Client, account: tuple[str, str], receiver: HTTPServer
) -> None:
    sink = make_sink(api, receiver.url_for("/hook"))
    operation_id = send(api, {"to": [phone("0003"), phone("0100")], "content": {"text": "Hi"}})
    wait_completed(api, operation_id)

    events = wait_for_events(receiver, 2 + 4 + 7)

    types = [e["type"].removeprefix(PREFIX) for e in events]
    assert types[0] == "operation.processing"
    assert types.count("operation.completed") == 1
    completed = next(e for e in events if e["type"].endswith("operation.completed"))
    assert completed["data"] == {"operation_id": operation_id}  # Twilio's schema: nothing else
    by_message: dict[str, list[tuple[str, str, str]]] = collections.defaultdict(list)
    for event in events:
        assert event["specversion"] == "1.0"
        assert event["dataschema"].startswith("https://events-schemas.twilio.com/CommsApi.")
        assert event["data"]["operation_id"] == operation_id
        if event["type"].startswith(PREFIX + "message."):
            data = event["data"]
            assert data["downstream_id"].startswith("SM")
            assert data["account_sid"] == account[0]
            assert data["to"]["address"] in {phone("0003")["address"], phone("0100")["address"]}
            by_message[data["message_id"]].append(
                (data["attempt"], data["from"]["channel"], event["type"].rsplit(".", 1)[1])
            )
    flows = sorted(by_message.values(), key=len)
    # +14155550100: delivered and read on RCS
    assert flows[0] == [
        ("1", "RCS", "queued"),
        ("1", "RCS", "sent"),
        ("1", "RCS", "delivered"),
        ("1", "RCS", "read"),
    ]
    # +14155550003: RCS and WhatsApp fail, SMS delivers
    assert flows[1] == [
        ("1", "RCS", "queued"), ("1", "RCS", "failed"),
        ("2", "WHATSAPP", "queued"), ("2", "WHATSAPP", "failed"),
        ("3", "SMS", "queued"), ("3", "SMS", "sent"), ("3", "SMS", "delivered"),
    ]  # fmt: skip
    for request, _ in posted_batches(receiver):
        assert_signed(request, account[1], sink["secret"])


def test_a_subscription_selects_the_types_it_names(api: httpx.Client, receiver: HTTPServer) -> None:
    make_sink(
        api, receiver.url_for("/hook"), [PREFIX + "operation.completed", PREFIX + "message.failed"]
    )
    operation_id = send(api, {"to": [phone("0001"), phone("0100")], "content": {"text": "Hi"}})
    wait_completed(api, operation_id)

    events = wait_until(lambda: (found := delivered_events(receiver)) and len(found) >= 2 and found)

    assert sorted(e["type"] for e in events) == [
        PREFIX + "message.failed",
        PREFIX + "operation.completed",
    ]
    assert events[0]["data"]["error_code"] == "61337"
    assert events[0]["data"]["opencomms"]["error_message"]


def test_the_callbacks_url_of_a_send_gets_that_operations_events(
    api: httpx.Client, account: tuple[str, str], receiver: HTTPServer
) -> None:
    secret = api.get("/Account").json()["webhookSecret"]
    operation_id = send(
        api,
        {
            "to": [phone("0100")],
            "content": {"text": "Hi"},
            "callbacks": {"url": receiver.url_for("/hook")},
        },
    )
    other = send(api, {"to": [phone("0101")], "content": {"text": "Hi"}})
    wait_completed(api, operation_id)
    wait_completed(api, other)

    events = wait_for_events(receiver, 6)

    # processing, queued, sent, delivered, read and completed; nothing of the other send
    assert {e["data"]["operation_id"] for e in events} == {operation_id}
    for request, _ in posted_batches(receiver):
        assert_signed(request, account[1], secret)


def test_a_failing_receiver_gets_every_event_once_it_recovers(
    api: httpx.Client, httpserver: HTTPServer
) -> None:
    failures = {"left": 3}

    def flaky(request: Request) -> Response:
        if failures["left"] > 0:
            failures["left"] -= 1
            return Response("down", status=500)
        return Response("ok", status=200)

    httpserver.expect_request("/hook", method="POST").respond_with_handler(flaky)
    sink = make_sink(api, httpserver.url_for("/hook"))
    operation_id = send(
        api, {"to": [phone(f"{n:04d}") for n in range(100, 110)], "content": {"text": "Hi"}}
    )
    wait_completed(api, operation_id)

    events = wait_for_events(httpserver, 2 + 10 * 4, timeout=120)

    failed_ids = set()
    for request, response in posted_batches(httpserver):
        if response.status_code == 500:
            failed_ids |= {e["id"] for e in json.loads(request.get_data())}
    assert failed_ids and failed_ids <= {e["id"] for e in events}
    deliveries = api.get(f"/Sinks/{sink['id']}/Deliveries").json()["deliveries"]
    assert [d["responseCode"] for d in deliveries].count(500) == 3
    assert all(d["nextAttemptAt"] for d in deliveries if d["outcome"] == "FAILED")


def test_410_gone_disables_the_sink(api: httpx.Client, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("gone", status=410)
    sink = make_sink(api, httpserver.url_for("/hook"))
    operation_id = send(api, {"to": [phone("0100")], "content": {"text": "Hi"}})
    wait_completed(api, operation_id)

    wait_until(lambda: api.get(f"/Sinks/{sink['id']}").json()["status"] == "DISABLED")

    assert len(posted_batches(httpserver)) == 1


def test_redirects_are_not_followed(api: httpx.Client, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/elsewhere")}
    )
    httpserver.expect_request("/elsewhere").respond_with_data("ok")
    sink = make_sink(api, httpserver.url_for("/hook"))
    send(api, {"to": [phone("0100")], "content": {"text": "Hi"}})

    wait_until(lambda: api.get(f"/Sinks/{sink['id']}/Deliveries").json()["deliveries"])

    deliveries = api.get(f"/Sinks/{sink['id']}/Deliveries").json()["deliveries"]
    assert deliveries[0]["outcome"] == "FAILED"
    assert deliveries[0]["responseCode"] == 302
    assert posted_batches(httpserver, "/elsewhere") == []


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/hook",
        "http://[fc00::1]/hook",
        "http://192.168.1.10/hook",
    ],
)
def test_sinks_to_private_or_metadata_addresses_are_refused(api: httpx.Client, url: str) -> None:
    response = api.post("/Sinks", json={"url": url})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "url"
    assert api.get("/Sinks").json()["sinks"] == []


def test_a_callbacks_url_to_a_private_address_is_refused(api: httpx.Client) -> None:
    response = api.post(
        "/Messages",
        json={
            "to": [phone("0100")],
            "content": {"text": "Hi"},
            "callbacks": {"url": "http://10.0.0.1/x"},
        },
    )

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["callbacks.url"]


def test_sinks_and_subscriptions_are_managed_per_account(
    api: httpx.Client, receiver: HTTPServer
) -> None:
    sink = make_sink(api, receiver.url_for("/hook"))
    listed = api.get("/Sinks").json()
    subscriptions = api.get("/Subscriptions").json()["subscriptions"]

    assert [s["id"] for s in listed["sinks"]] == [sink["id"]]
    assert "secret" not in listed["sinks"][0]
    assert sink["secret"].startswith("whsec_")
    assert sink["id"].startswith("DG")
    assert subscriptions[0]["sinkId"] == sink["id"]
    assert api.delete(f"/Subscriptions/{subscriptions[0]['id']}").status_code == 204
    assert api.delete(f"/Sinks/{sink['id']}").status_code == 204
    assert api.get(f"/Sinks/{sink['id']}").status_code == 404


@pytest.mark.parametrize(
    "identifier", ["%00", "DG%00", "DG" + "0" * 32, "DF" + "0" * 32, "x" * 300]
)
def test_an_id_that_is_no_sink_or_subscription_is_a_404(api: httpx.Client, identifier: str) -> None:
    # a NUL byte reached PostgreSQL and answered 500 (found by the fuzz run)
    for method, path in [
        ("GET", f"/Sinks/{identifier}"),
        ("DELETE", f"/Sinks/{identifier}"),
        ("GET", f"/Sinks/{identifier}/Deliveries"),
        ("GET", f"/Subscriptions/{identifier}"),
        ("DELETE", f"/Subscriptions/{identifier}"),
    ]:
        response = api.request(method, path)
        assert response.status_code == 404, f"{method} {path}: {response.text}"
    replay = api.post(f"/Sinks/{identifier}/Replay", json={"startDate": "2024-01-01T00:00:00Z"})
    assert replay.status_code == 404, replay.text


@pytest.mark.parametrize("sink_id", ["\x00", "DG\x00", "DG" + "0" * 32, ""])
def test_a_subscription_to_no_sink_names_the_sink_id(api: httpx.Client, sink_id: str) -> None:
    response = api.post("/Subscriptions", json={"sinkId": sink_id, "types": ["*"]})

    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["sinkId"]


def test_subscription_types_are_checked(api: httpx.Client, receiver: HTTPServer) -> None:
    sink = make_sink(api, receiver.url_for("/hook"))
    response = api.post(
        "/Subscriptions", json={"sinkId": sink["id"], "types": ["com.example.nothing", 3]}
    )

    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"types"}
    response = api.post(
        "/Subscriptions", json={"sinkId": sink["id"], "types": ["com.example.nothing"]}
    )
    assert [e["field"] for e in response.json()["errors"]] == ["types[0]"]


def test_a_replay_resends_a_time_range_with_the_same_event_ids(
    api: httpx.Client, receiver: HTTPServer
) -> None:
    sink = make_sink(api, receiver.url_for("/hook"))
    start = api.get("/Account").json()["createdAt"]
    operation_id = send(api, {"to": [phone("0100")], "content": {"text": "Hi"}})
    wait_completed(api, operation_id)
    first = wait_for_events(receiver, 6)

    response = api.post(f"/Sinks/{sink['id']}/Replay", json={"startDate": start})

    assert response.status_code == 202
    both = wait_until(lambda: len(found := delivered_events(receiver)) >= 12 and found)
    assert [e["id"] for e in both[6:]] == [e["id"] for e in first]


def test_a_replay_needs_a_start_date(api: httpx.Client, receiver: HTTPServer) -> None:
    sink = make_sink(api, receiver.url_for("/hook"))

    response = api.post(f"/Sinks/{sink['id']}/Replay", json={"endDate": "yesterday"})

    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"startDate", "endDate"}


def test_retry_after_is_honoured(api: httpx.Client, httpserver: HTTPServer) -> None:
    answers = iter([Response("busy", status=503, headers={"Retry-After": "3"})])

    def busy_once(request: Request) -> Response:
        return next(answers, Response("ok", status=200))

    httpserver.expect_request("/hook", method="POST").respond_with_handler(busy_once)
    sink = make_sink(api, httpserver.url_for("/hook"), [PREFIX + "operation.processing"])
    send(api, {"to": [phone("0100")], "content": {"text": "Hi"}})

    wait_for_events(httpserver, 1)

    url = f"/Sinks/{sink['id']}/Deliveries"
    deliveries = wait_until(
        lambda: (
            (found := api.get(url).json()["deliveries"])
            and found[0]["outcome"] == "DELIVERED"
            and found
        )
    )
    refused, delivered = deliveries[-1], deliveries[0]
    assert (refused["responseCode"], delivered["responseCode"]) == (503, 200)
    gap = _seconds(delivered["attemptedAt"]) - _seconds(refused["attemptedAt"])
    assert gap >= 2.9


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_a_slow_sink_does_not_hold_back_another(api: httpx.Client, receiver: HTTPServer) -> None:
    slow = HTTPServer(threaded=True)
    slow.expect_request("/slow", method="POST").respond_with_handler(_slowly)
    slow.start()
    try:
        make_sink(api, slow.url_for("/slow"))
        make_sink(api, receiver.url_for("/hook"))
        operation_id = send(api, {"to": [phone("0100")], "content": {"text": "Hi"}})
        wait_completed(api, operation_id)

        wait_for_events(receiver, 6, timeout=30)

        assert delivered_events(slow, "/slow") == []
    finally:
        slow.clear()
        slow.stop()


def _slowly(request: Request) -> Response:
    time.sleep(20)  # beyond the 15 s delivery timeout: this sink never gets through
    return Response("ok", status=200)


def test_a_receiver_slower_than_the_timeout_is_retried(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    answers = iter(["slow"])

    def slow_once(request: Request) -> Response:
        if next(answers, None):
            time.sleep(1.5)
        return Response("ok", status=200)

    httpserver.expect_request("/hook", method="POST").respond_with_handler(slow_once)
    settings = Settings(
        server=ServerSettings(
            database_url=f"sqlite:///{tmp_path}/opencomms.db",
            secret_key_file=str(tmp_path / "opencomms.key"),
            allowed_callback_networks=["127.0.0.0/8", "::1/128"],
        ),
        events=EventSettings(timeout="500ms"),
    )
    server = ThreadServer(settings).start()
    try:
        with httpx.Client(base_url=server.url + "/v1", auth=server.new_account()) as api:
            sink = make_sink(api, httpserver.url_for("/hook"), [PREFIX + "operation.processing"])
            send(api, {"to": [phone("0100")], "content": {"text": "Hi"}})

            url = f"/Sinks/{sink['id']}/Deliveries"
            deliveries = wait_until(
                lambda: (
                    (found := api.get(url).json()["deliveries"])
                    and found[0]["outcome"] == "DELIVERED"
                    and found
                )
            )
    finally:
        server.stop()

    timed_out, delivered = deliveries[-1], deliveries[0]
    assert timed_out["outcome"] == "FAILED"
    assert "Timeout" in timed_out["error"]
    assert delivered["outcome"] == "DELIVERED"


def test_each_canceled_message_has_exactly_one_canceled_event(
    api: httpx.Client, receiver: HTTPServer
) -> None:
    make_sink(api, receiver.url_for("/hook"))
    send_at = datetime.now(UTC) + timedelta(minutes=10)
    operation_id = send(
        api,
        {
            "to": [phone("0100"), phone("0101"), phone("0102")],
            "content": {"text": "Hi"},
            "schedule": {"sendAt": [send_at.isoformat()]},
        },
    )
    wait_until(
        lambda: api.get(f"/Messages/Operations/{operation_id}").json()["stats"]["total"] == 3
    )

    assert api.post(f"/Messages/Operations/{operation_id}/Cancel").status_code == 200

    events = wait_for_events(receiver, 1 + 3)
    assert events[0]["type"] == PREFIX + "operation.scheduled"
    canceled = [e for e in events if e["type"] == PREFIX + "message.canceled"]
    assert len({e["data"]["message_id"] for e in canceled}) == 3
    assert all(e["data"]["operation_id"] == operation_id for e in canceled)
