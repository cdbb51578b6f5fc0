"""Senders as Twilio's Comms API shows them: `displayName`, Search Senders (`POST
/v1/Senders/Search`) and Resolve Senders (`POST /v1/Senders/Resolve`)."""

from __future__ import annotations

from typing import Any

import httpx


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def fields(response: httpx.Response) -> set[str]:
    assert response.status_code == 400, response.text
    return {error["field"] for error in response.json()["errors"]}


def default_senders(api: httpx.Client) -> list[dict[str, Any]]:
    pool = next(p for p in ok(api.get("/SenderPools"))["senderPools"] if p["default"])
    return [ok(api.get(f"/Senders/{sender_id}")) for sender_id in pool["senders"]]


def test_a_sender_carries_a_display_name(api: httpx.Client) -> None:
    made = ok(
        api.post(
            "/Senders",
            json={"address": "+12065550170", "channel": "SMS", "displayName": "Support"},
        ),
        201,
    )
    cleared = ok(api.patch(f"/Senders/{made['id']}", json={"displayName": None}))

    assert made["displayName"] == "Support"
    assert cleared["displayName"] is None
    assert ok(api.get(f"/Senders/{made['id']}"))["displayName"] is None
    assert all("displayName" in sender for sender in default_senders(api))
    assert fields(api.patch(f"/Senders/{made['id']}", json={"displayName": ""})) == {"displayName"}


def test_search_finds_senders_by_address_and_channel(api: httpx.Client) -> None:
    sms = ok(api.post("/Senders", json={"address": "+12065550171", "channel": "SMS"}), 201)
    whatsapp = ok(
        api.post("/Senders", json={"address": "+12065550171", "channel": "WHATSAPP"}), 201
    )

    both = ok(api.post("/Senders/Search", json={"address": "+12065550171"}))
    one = ok(api.post("/Senders/Search", json={"address": "+12065550171", "channel": "sms"}))
    paged = ok(
        api.post("/Senders/Search", json={"address": "+12065550171"}, params={"pageSize": 1})
    )
    none = ok(api.post("/Senders/Search", json={"address": "+12065550199"}))

    assert [s["id"] for s in both["senders"]] == [whatsapp["id"], sms["id"]]
    assert [s["id"] for s in one["senders"]] == [sms["id"]]
    assert one["senders"][0] == ok(api.get(f"/Senders/{sms['id']}"))
    assert len(paged["senders"]) == 1 and paged["pagination"]["next"]
    assert none["senders"] == []


def test_search_names_every_problem(api: httpx.Client) -> None:
    response = api.post(
        "/Senders/Search", json={"channel": "FAX", "status": "x", "address": 5}, params={"q": "1"}
    )

    assert fields(response) == {"channel", "status", "address", "q"}


def test_resolve_pairs_senders_with_the_addresses_they_reach(api: httpx.Client) -> None:
    by_channel = {s["channel"]: s for s in default_senders(api)}
    phone = {"address": "+14155550100", "channel": "PHONE"}
    email = {"address": "jane@example.com", "channel": "EMAIL"}

    plain = ok(api.post("/Senders/Resolve", json={"recipientAddresses": [phone, email]}))
    controlled = ok(
        api.post(
            "/Senders/Resolve",
            json={
                "recipientAddresses": [phone, email],
                "channels": {
                    "filterIn": ["SMS", "EMAIL"],
                    "priority": [
                        {"channel": "EMAIL", "priority": 0},
                        {"channel": "SMS", "priority": 1},
                    ],
                },
            },
        )
    )

    pairs = [(r["from"]["channel"], r["to"]["channel"]) for r in plain["results"]]
    assert ("SMS", "PHONE") in pairs and ("EMAIL", "EMAIL") in pairs
    assert ("EMAIL", "PHONE") not in pairs and ("SMS", "EMAIL") not in pairs
    assert [r["priority"] for r in plain["results"]] == list(range(len(pairs)))
    first = controlled["results"][0]
    assert first["from"] == {
        "senderId": by_channel["EMAIL"]["id"],
        "displayName": by_channel["EMAIL"]["displayName"],
        "channel": "EMAIL",
        "address": by_channel["EMAIL"]["address"],
    }
    assert first["to"] == email
    assert [(r["from"]["channel"], r["to"]["channel"]) for r in controlled["results"]] == [
        ("EMAIL", "EMAIL"),
        ("SMS", "PHONE"),
    ]


def test_resolve_uses_the_named_pool_and_refuses_what_it_cannot_use(api: httpx.Client) -> None:
    sms = next(s for s in default_senders(api) if s["channel"] == "SMS")
    pool = ok(api.post("/SenderPools", json={"name": "sms", "senders": [sms["id"]]}), 202)
    phone = {"address": "+14155550100", "channel": "PHONE"}

    only_sms = ok(
        api.post(
            "/Senders/Resolve", json={"senderPoolId": pool["id"], "recipientAddresses": [phone]}
        )
    )
    missing = api.post(
        "/Senders/Resolve",
        json={
            "senderPoolId": "comms_senderpool_01h9krwprkeee8fzqspvwy6nq8",
            "recipientAddresses": [phone],
        },
    )
    bad = api.post(
        "/Senders/Resolve",
        json={
            "recipientAddresses": [{"address": "x", "channel": "FAX"}],
            "channels": {"filterIn": ["FAX"]},
            "x": 1,
        },
    )

    assert [r["from"]["senderId"] for r in only_sms["results"]] == [sms["id"]]
    assert fields(missing) == {"senderPoolId"}
    assert fields(bad) == {"recipientAddresses[0].channel", "channels.filterIn", "x"}
    assert fields(api.post("/Senders/Resolve", json={"recipientAddresses": []})) == {
        "recipientAddresses"
    }


def test_resolve_refuses_a_priority_that_is_not_an_array(api: httpx.Client) -> None:
    """`channels.priority` is null or an array, as documented: a falsy `0`, `""` or `{}`
    was taken as no priority, a string's characters as its items."""
    phone = {"address": "+14155550100", "channel": "PHONE"}
    for priority in (0, "", {}, False, "SMS", {"channel": "SMS", "priority": 0}):
        body = {"recipientAddresses": [phone], "channels": {"priority": priority}}
        assert fields(api.post("/Senders/Resolve", json=body)) == {"channels.priority"}
    body = {"recipientAddresses": [phone], "channels": {"priority": None, "filterIn": None}}
    assert ok(api.post("/Senders/Resolve", json=body))["results"]
