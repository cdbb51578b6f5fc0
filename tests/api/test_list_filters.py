"""A list filter the server does not apply is a 400 naming it, on every list: a list
that silently ignored `?profile=` would answer every Message as if it had applied it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.polling import send, wait_completed

PHONE = {"address": "+14155550100", "channel": "PHONE"}


def pool_id(api: httpx.Client) -> str:
    pools = api.get("/SenderPools").json()["senderPools"]
    identifier: str = pools[0]["id"]
    return identifier


LISTS = [
    "/Messages",
    "/Messages/Operations",
    "/Senders",
    "/SenderPools",
    "/SenderPools/{pool}/Senders",
    "/SenderPools/Operations",
    "/OptOuts",
    "/Sinks",
    "/Subscriptions",
    "/ApiKeys",
    "/Content",
]


def problems(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == 20001
    return {error["field"]: error["message"] for error in body["errors"]}


@pytest.mark.parametrize("path", LISTS)
def test_every_unknown_filter_is_named_in_one_400(api: httpx.Client, path: str) -> None:
    url = path.format(pool=pool_id(api))

    refused = api.get(url, params={"profile": "p1", "sessionId": "s1"})

    assert set(problems(refused)) == {"profile", "sessionId"}
    assert api.get(url).status_code == 200


@pytest.mark.parametrize("path", [p for p in LISTS if p not in ("/ApiKeys", "/Content")])
def test_paging_parameters_in_every_spelling_still_work(api: httpx.Client, path: str) -> None:
    url = path.format(pool=pool_id(api))
    for size in ("pageSize", "page_size", "PageSize"):
        response = api.get(url, params={size: "1"})
        assert response.status_code == 200, (size, response.text)
        token = response.json()["pagination"]["self"]
        for name in ("pageToken", "page_token", "PageToken"):
            assert api.get(url, params={name: token}).status_code == 200, name


def test_known_message_filters_still_filter(api: httpx.Client) -> None:
    first = send(api, {"to": [PHONE], "content": {"text": "a"}, "tags": {"k": "v"}})
    second = send(api, {"to": [PHONE], "content": {"text": "b"}})
    wait_completed(api, first), wait_completed(api, second)

    by_operation = api.get("/Messages", params={"operationId": first}).json()["messages"]
    by_tags = api.get("/Messages", params={"tags": "k:v;", "pageSize": 5}).json()["messages"]
    mixed = api.get("/Messages", params={"operationId": first, "profile": "x"})

    assert [m["related"][0]["id"] for m in by_operation] == [first]
    assert [m["related"][0]["id"] for m in by_tags] == [first]
    assert set(problems(mixed)) == {"profile"}


def test_an_unknown_filter_and_a_bad_known_one_are_listed_together(api: httpx.Client) -> None:
    response = api.get("/Messages", params={"status": "NOPE", "to": "+14155550100"})

    assert set(problems(response)) == {"status", "to"}


def test_the_content_list_takes_twilios_page_counter(api: httpx.Client) -> None:
    assert api.get("/Content", params={"Page": "0", "PageSize": "5"}).status_code == 200
    assert set(problems(api.get("/Content", params={"Page": "0", "Language": "en"}))) == {
        "Language"
    }


def test_an_address_filter_the_database_cannot_hold_is_a_400(api: httpx.Client) -> None:
    for value in ("+1415\x00", "", "x" * 321):
        assert set(problems(api.get("/Messages", params={"address": value}))) == {"address"}


def test_the_deliveries_of_a_sink_take_no_filter(api: httpx.Client) -> None:
    made = api.post("/Sinks", json={"url": "http://127.0.0.1:9/hook"})
    assert made.status_code == 201, made.text
    url = f"/Sinks/{made.json()['id']}/Deliveries"

    refused = api.get(url, params={"outcome": "FAILED", "since": "2026-01-01"})

    assert set(problems(refused)) == {"outcome", "since"}
    assert api.get(url).status_code == 200
    assert api.get(url, params={"pageSize": "5"}).status_code == 200
