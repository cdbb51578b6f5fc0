"""An account's sinks are limited (`[sinks] max_per_account`, 3 on the limited server),
`callbacks.url` sinks included; those are listed and deleted under /v1/Sinks with their
kind, and expire when unused (`[sinks] callback_expiry`, 1 s on the limited server)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pytest_httpserver import HTTPServer

from opencomms.domain.durations import parse_duration_ms
from tests.events.conftest import LIMITS
from tests.events.helpers import make_sink
from tests.support.polling import send, wait_completed, wait_until

LIMIT = LIMITS.max_per_account
TO = [{"address": "+14155550100", "channel": "PHONE"}]


def later_send(url: str) -> dict[str, Any]:
    """A send to `url`'s callbacks that stays SCHEDULED for the whole test."""
    send_at = (datetime.now(UTC) + timedelta(minutes=30)).isoformat()
    return {
        "to": TO,
        "content": {"text": "Hi"},
        "schedule": {"sendAt": [send_at]},
        "callbacks": {"url": url},
    }


def sinks_of(api: httpx.Client) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = api.get("/Sinks").json()["sinks"]
    return listed


def assert_limit_refusal(response: httpx.Response, field: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == 20001
    assert [e["field"] for e in body["errors"]] == [field]
    assert "max_per_account" in body["errors"][0]["message"]


def test_sinks_past_the_limit_are_refused_until_one_is_deleted(
    limited_api: httpx.Client, httpserver: HTTPServer
) -> None:
    made = [make_sink(limited_api, httpserver.url_for(f"/hook{n}")) for n in range(LIMIT)]

    refused = limited_api.post("/Sinks", json={"url": httpserver.url_for("/one-more")})

    assert_limit_refusal(refused, "url")
    assert len(sinks_of(limited_api)) == LIMIT
    assert limited_api.delete(f"/Sinks/{made[0]['id']}").status_code == 204
    again = limited_api.post("/Sinks", json={"url": httpserver.url_for("/one-more")})
    assert again.status_code == 201, again.text


def test_the_limit_holds_for_sinks_made_at_the_same_moment(
    limited_api: httpx.Client, httpserver: HTTPServer
) -> None:
    def create(n: int) -> int:
        url = httpserver.url_for(f"/hook{n}")
        return limited_api.post("/Sinks", json={"url": url}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(create, range(8)))

    assert sorted(codes) == [201] * LIMIT + [400] * (8 - LIMIT)
    assert len(sinks_of(limited_api)) == LIMIT


def test_a_send_whose_callbacks_url_needs_a_sink_past_the_limit_is_refused(
    limited_api: httpx.Client, httpserver: HTTPServer
) -> None:
    for n in range(LIMIT - 1):
        make_sink(limited_api, httpserver.url_for(f"/hook{n}"))
    send(limited_api, later_send(httpserver.url_for("/callbacks")))  # the last one allowed
    operations = limited_api.get("/Messages/Operations").json()

    refused = limited_api.post("/Messages", json=later_send(httpserver.url_for("/elsewhere")))
    reused = limited_api.post("/Messages", json=later_send(httpserver.url_for("/callbacks")))

    assert_limit_refusal(refused, "callbacks.url")
    assert reused.status_code == 202, reused.text  # its sink exists already
    after = limited_api.get("/Messages/Operations").json()
    assert len(after["operations"]) == len(operations["operations"]) + 1  # the refused: none


def test_callback_sinks_are_listed_with_their_kind_and_can_be_deleted(
    limited_api: httpx.Client, httpserver: HTTPServer
) -> None:
    webhook = make_sink(limited_api, httpserver.url_for("/hook"))
    send(limited_api, later_send(httpserver.url_for("/callbacks")))

    listed = {s["kind"]: s for s in sinks_of(limited_api)}

    assert set(listed) == {"webhook", "callback"}
    assert listed["webhook"]["id"] == webhook["id"]
    callback = listed["callback"]
    assert callback["url"] == httpserver.url_for("/callbacks")
    assert "secret" not in callback
    assert limited_api.get(f"/Sinks/{callback['id']}").json()["kind"] == "callback"
    subscription = limited_api.post(
        "/Subscriptions", json={"sinkId": callback["id"], "types": ["com.twilio.comms-api.*"]}
    )
    assert [e["field"] for e in subscription.json()["errors"]] == ["sinkId"]
    assert limited_api.delete(f"/Sinks/{callback['id']}").status_code == 204
    assert [s["kind"] for s in sinks_of(limited_api)] == ["webhook"]
    assert limited_api.get(f"/Sinks/{callback['id']}").status_code == 404


def test_a_deleted_callback_sink_gets_nothing_more(
    limited_api: httpx.Client, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/callbacks", method="POST").respond_with_data("ok")
    body = later_send(httpserver.url_for("/callbacks"))
    del body["schedule"]
    operation_id = send(limited_api, body)
    (callback,) = sinks_of(limited_api)
    assert limited_api.delete(f"/Sinks/{callback['id']}").status_code == 204
    # a POST already under way when the sink went ends within the delivery timeout;
    # nothing may start after
    time.sleep((parse_duration_ms(LIMITS.delivery_timeout) or 0) / 1000 + 0.5)
    received = len(httpserver.log)

    wait_completed(limited_api, operation_id)
    second = send(limited_api, {"to": TO, "content": {"text": "Hi"}})
    wait_completed(limited_api, second)

    assert len(httpserver.log) == received


def test_an_unused_callback_sink_expires_and_one_in_use_stays(
    limited_api: httpx.Client, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/done", method="POST").respond_with_data("ok")
    body = later_send(httpserver.url_for("/done"))
    del body["schedule"]
    done = send(limited_api, body)
    send(limited_api, later_send(httpserver.url_for("/later")))  # scheduled: in use
    wait_completed(limited_api, done)

    remaining = wait_until(
        lambda: (found := sinks_of(limited_api)) and len(found) == 1 and found, timeout=30
    )

    assert remaining[0]["url"] == httpserver.url_for("/later")


def test_a_callback_sink_named_again_is_used_again(
    limited_api: httpx.Client, httpserver: HTTPServer
) -> None:
    url = httpserver.url_for("/later")
    send(limited_api, later_send(url))
    send(limited_api, later_send(url))

    assert [s["url"] for s in sinks_of(limited_api)] == [url]
