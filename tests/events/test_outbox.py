"""Events are written only where a sink will want them, on both engines: an account with
no sink subscribed to anything stores none, however much it sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from pytest_httpserver import HTTPServer

from tests.events.helpers import make_sink
from tests.support.polling import send, wait_completed, wait_until
from tests.support.retention import count
from tests.support.server import ThreadServer

TO = [
    {"address": "+14155550100", "channel": "PHONE"},
    {"address": "+14155550101", "channel": "PHONE"},
]


def events_of(server: ThreadServer, account: tuple[str, str]) -> int:
    return count(server, "events", "account_sid = ?", account[0])


def test_an_account_without_a_subscribed_sink_stores_no_events(
    server: ThreadServer, account: tuple[str, str], api: httpx.Client, httpserver: HTTPServer
) -> None:
    unsubscribed = api.post("/Sinks", json={"url": httpserver.url_for("/hook")})
    assert unsubscribed.status_code == 201

    wait_completed(api, send(api, {"to": TO, "content": {"text": "Hi"}}))

    assert events_of(server, account) == 0


def test_a_subscribed_sink_gets_every_event_of_its_account(
    server: ThreadServer, account: tuple[str, str], api: httpx.Client, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    make_sink(api, httpserver.url_for("/hook"))

    wait_completed(api, send(api, {"to": TO, "content": {"text": "Hi"}}))

    assert events_of(server, account) > 0


def test_callbacks_store_the_events_of_their_operation_only_from_its_first(
    server: ThreadServer, account: tuple[str, str], api: httpx.Client, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/callback", method="POST").respond_with_data("ok")
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    called_back = send(
        api,
        {
            "to": TO,
            "content": {"text": "Hi"},
            "schedule": {"sendAt": [later]},
            "callbacks": {"url": httpserver.url_for("/callback")},
        },
    )
    silent = send(api, {"to": TO, "content": {"text": "Hi"}})
    wait_completed(api, silent)

    assert count(server, "events", "operation_id = ?", silent) == 0
    first = wait_until(lambda: count(server, "events", "operation_id = ?", called_back))
    assert first == 1
    scheduled = wait_until(lambda: httpserver.log and httpserver.log[0][0].get_json())
    assert [e["type"] for e in scheduled] == ["com.twilio.comms-api.operation.scheduled"]
