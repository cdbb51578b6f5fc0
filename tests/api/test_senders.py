"""Senders and sender pools: their lifecycle, and the order a pool gives to the attempts."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.support.polling import all_messages, send, wait_completed

SENDER_ID = re.compile(r"^comms_sender_[0-7][0-9a-hjkmnp-tv-z]{25}$")
POOL_ID = re.compile(r"^comms_senderpool_[0-7][0-9a-hjkmnp-tv-z]{25}$")
DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
MISSING_SENDER = "comms_sender_01h2xcejqtf2nbrexx3vqjhp41"


def phone(ending: str) -> dict[str, str]:
    return {"address": f"+1415555{ending}", "channel": "PHONE"}


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def created_pool(response: httpx.Response) -> dict[str, Any]:
    """The pool a create answered with (202, as Twilio's), its operation taken out."""
    body = ok(response, 202)
    operation_id = body.pop("operationId")
    assert body.pop("operationLocation").endswith(f"/v1/SenderPools/Operations/{operation_id}")
    return body


def error_fields(response: httpx.Response, status: int = 400) -> set[str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["code"], int)
    return {error["field"] for error in body["errors"]}


def create_sender(api: httpx.Client, address: str, channel: str, **extra: Any) -> dict[str, Any]:
    return ok(api.post("/Senders", json={"address": address, "channel": channel, **extra}), 201)


def default_pool(api: httpx.Client) -> dict[str, Any]:
    (pool,) = [p for p in ok(api.get("/SenderPools"))["senderPools"] if p["default"]]
    return pool


def default_senders(api: httpx.Client) -> dict[str, str]:
    """The new account's simulator senders, by channel."""
    members = ok(api.get(f"/SenderPools/{default_pool(api)['id']}/Senders"))["senders"]
    return {sender["channel"]: sender["id"] for sender in members}


def walk(api: httpx.Client, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    query = dict(params)
    while True:
        page = ok(api.get(path, params=query))
        items += page[key]
        assert "self" in page["pagination"]
        if page["pagination"]["next"] is None:
            return items
        query["pageToken"] = page["pagination"]["next"]


def attempt_channels(api: httpx.Client, body: dict[str, Any]) -> list[list[tuple[str, str]]]:
    """Send `body`; for each Message, the (channel, sender id) of each of its attempts."""
    operation_id = send(api, {"content": {"text": "Hi"}, **body})
    wait_completed(api, operation_id)
    result = []
    for message in all_messages(api, operationId=operation_id):
        fetched = ok(api.get(f"/Messages/{message['id']}"))
        result.append([(a["from"]["channel"], a["from"]["senderId"]) for a in fetched["attempts"]])
    return result


# --- the default pool -----------------------------------------------------------------


def test_a_new_account_has_a_default_pool_of_four_simulator_senders(api: httpx.Client) -> None:
    pools = ok(api.get("/SenderPools"))

    (pool,) = pools["senderPools"]
    assert pools["pagination"]["next"] is None
    assert POOL_ID.match(pool["id"])
    assert pool["default"] is True
    assert len(pool["senders"]) == 4
    members = ok(api.get(f"/SenderPools/{pool['id']}/Senders"))["senders"]
    assert [s["id"] for s in members] == pool["senders"]
    assert [s["channel"] for s in members] == ["RCS", "WHATSAPP", "SMS", "EMAIL"]
    assert {s["connector"] for s in members} == {"simulator"}
    assert {s["status"] for s in members} == {"ACTIVATED"}
    assert ok(api.get(f"/SenderPools/{pool['id']}")) == pool
    assert len(ok(api.get("/Senders"))["senders"]) == 4


# --- /v1/Senders ----------------------------------------------------------------------


def test_a_created_sender_has_the_contract_fields_and_defaults(api: httpx.Client) -> None:
    response = api.post("/Senders", json={"address": "+12065550100", "channel": "sms"})

    sender = ok(response, 201)
    assert SENDER_ID.match(sender["id"])
    assert sender["address"] == "+12065550100"
    assert sender["channel"] == "SMS"
    assert sender["connector"] == "simulator"
    assert sender["status"] == "ACTIVATED"
    assert sender["tags"] == {}
    assert DATE_TIME.match(sender["createdAt"])
    assert DATE_TIME.match(sender["updatedAt"])
    assert ok(api.get(f"/Senders/{sender['id']}")) == sender


def test_a_sender_is_created_with_status_tags_and_fallback_timeout(api: httpx.Client) -> None:
    sender = create_sender(
        api,
        "brand_agent",
        "RCS",
        status="deactivated",
        tags={"region": "eu-west"},
        fallbackTimeout="2s",
    )

    assert sender["status"] == "DEACTIVATED"
    assert sender["tags"] == {"region": "eu-west"}
    assert sender["fallbackTimeout"] == "2s"
    assert ok(api.get(f"/Senders/{sender['id']}")) == sender


def test_the_same_address_on_the_same_channel_is_a_conflict(api: httpx.Client) -> None:
    create_sender(api, "+12065550101", "SMS")

    response = api.post("/Senders", json={"address": "+12065550101", "channel": "SMS"})

    assert response.status_code == 409
    assert response.json()["status"] == 409
    # another channel is another sender
    create_sender(api, "+12065550101", "WHATSAPP")
    assert len(ok(api.get("/Senders", params={"pageSize": 1000}))["senders"]) == 4 + 2


def test_invalid_senders_are_rejected_with_every_problem(api: httpx.Client) -> None:
    assert error_fields(api.post("/Senders", json={"address": "+1206555", "channel": "FAX"})) == {
        "channel"
    }
    assert error_fields(
        api.post(
            "/Senders", json={"address": "+12065550102", "channel": "SMS", "connector": "acme"}
        )
    ) == {"connector"}
    assert error_fields(
        api.post(
            "/Senders",
            json={
                "channel": "PHONE",
                "status": "PAUSED",
                "fallbackTimeout": "soon",
                "tags": {"bad key": "x"},
                "colour": "red",
            },
        )
    ) == {"address", "channel", "status", "fallbackTimeout", "tags.bad key", "colour"}
    assert (
        api.post("/Senders", content=b"{", headers={"content-type": "application/json"}).status_code
        == 400
    )
    assert len(ok(api.get("/Senders"))["senders"]) == 4


def test_senders_are_listed_newest_first_filtered_and_paginated(api: httpx.Client) -> None:
    made = [create_sender(api, f"+1206555{n:04d}", "SMS") for n in range(200, 205)]
    off = create_sender(api, "team@example.com", "EMAIL", status="DEACTIVATED")

    everything = walk(api, "/Senders", "senders", pageSize=2)
    assert len(everything) == 10
    assert len({s["id"] for s in everything}) == 10
    assert [s["id"] for s in everything[:6]] == [off["id"], *(s["id"] for s in reversed(made))]
    sms = walk(api, "/Senders", "senders", channel="SMS", pageSize=2)
    assert {s["id"] for s in sms} == {s["id"] for s in made} | {default_senders(api)["SMS"]}
    assert [s["id"] for s in walk(api, "/Senders", "senders", status="deactivated")] == [off["id"]]
    assert walk(api, "/Senders", "senders", status="DEACTIVATED", channel="SMS") == []
    assert error_fields(api.get("/Senders", params={"channel": "FAX"})) == {"channel"}
    assert error_fields(api.get("/Senders", params={"status": "ON"})) == {"status"}


def test_a_sender_is_updated_with_post_and_with_patch(api: httpx.Client) -> None:
    sender = create_sender(api, "+12065550103", "SMS")

    posted = ok(
        api.post(
            f"/Senders/{sender['id']}",
            json={"status": "DEACTIVATED", "tags": {"team": "ops"}},
        )
    )
    assert posted["status"] == "DEACTIVATED"
    assert posted["tags"] == {"team": "ops"}
    patched = ok(api.patch(f"/Senders/{sender['id']}", json={"fallbackTimeout": "2s"}))
    assert patched["fallbackTimeout"] == "2s"
    assert patched["status"] == "DEACTIVATED"  # untouched fields stay
    assert patched["tags"] == {"team": "ops"}
    assert patched["createdAt"] == sender["createdAt"]
    assert patched["updatedAt"] >= sender["updatedAt"]
    assert ok(api.get(f"/Senders/{sender['id']}")) == patched
    reactivated = ok(api.patch(f"/Senders/{sender['id']}", json={"status": "activated"}))
    assert reactivated["status"] == "ACTIVATED"


def test_a_senders_address_and_channel_cannot_change(api: httpx.Client) -> None:
    sender = create_sender(api, "+12065550104", "SMS")

    for change in ({"address": "+12065550999"}, {"channel": "WHATSAPP"}):
        for method in ("POST", "PATCH"):
            response = api.request(method, f"/Senders/{sender['id']}", json=change)
            assert error_fields(response) == set(change)
    assert error_fields(api.patch(f"/Senders/{sender['id']}", json={"connector": "acme"})) == {
        "connector"
    }
    assert error_fields(api.patch(f"/Senders/{sender['id']}", json={"fallbackTimeout": 2})) == {
        "fallbackTimeout"
    }
    assert ok(api.get(f"/Senders/{sender['id']}")) == sender


def test_a_deleted_sender_is_gone_and_leaves_its_pools(api: httpx.Client) -> None:
    sender = create_sender(api, "+12065550105", "SMS")
    pool = created_pool(api.post("/SenderPools", json={"name": "p", "senders": [sender["id"]]}))

    assert api.delete(f"/Senders/{sender['id']}").status_code == 204

    assert api.get(f"/Senders/{sender['id']}").status_code == 404
    assert api.patch(f"/Senders/{sender['id']}", json={"tags": {}}).status_code == 404
    assert api.delete(f"/Senders/{sender['id']}").status_code == 404
    assert ok(api.get(f"/SenderPools/{pool['id']}"))["senders"] == []
    assert ok(api.get(f"/SenderPools/{pool['id']}/Senders"))["senders"] == []


def test_a_deactivated_sender_is_skipped_by_dispatch(api: httpx.Client) -> None:
    senders = default_senders(api)
    ok(api.patch(f"/Senders/{senders['RCS']}", json={"status": "DEACTIVATED"}))

    (attempts,) = attempt_channels(api, {"to": [phone("0100")]})

    assert attempts == [("WHATSAPP", senders["WHATSAPP"])]
    ok(api.patch(f"/Senders/{senders['RCS']}", json={"status": "ACTIVATED"}))
    (attempts,) = attempt_channels(api, {"to": [phone("0101")]})
    assert attempts == [("RCS", senders["RCS"])]


# --- /v1/SenderPools ------------------------------------------------------------------


def test_a_pools_order_is_the_fallback_order(api: httpx.Client) -> None:
    senders = default_senders(api)
    response = api.post(
        "/SenderPools",
        json={"name": "sms first", "senders": [senders["SMS"], senders["RCS"]], "tags": {"a": "b"}},
    )
    pool = created_pool(response)
    assert POOL_ID.match(pool["id"])
    assert pool["name"] == "sms first"
    assert pool["senders"] == [senders["SMS"], senders["RCS"]]
    assert pool["tags"] == {"a": "b"}
    assert pool["default"] is False
    assert DATE_TIME.match(pool["createdAt"])
    assert ok(api.get(f"/SenderPools/{pool['id']}")) == pool

    ordinary, no_sms = sorted(
        attempt_channels(
            api, {"to": [phone("0100"), phone("0004")], "from": {"senderPoolId": pool["id"]}}
        ),
        key=len,
    )

    # 0100 goes out on SMS, the pool's first sender; 0004 is undelivered on SMS, then RCS
    assert ordinary == [("SMS", senders["SMS"])]
    assert no_sms == [("SMS", senders["SMS"]), ("RCS", senders["RCS"])]


def test_a_pool_with_an_unknown_sender_is_rejected_naming_it(api: httpx.Client) -> None:
    senders = default_senders(api)

    response = api.post(
        "/SenderPools", json={"name": "bad", "senders": [senders["SMS"], MISSING_SENDER]}
    )

    assert error_fields(response) == {"senders[1]"}
    assert MISSING_SENDER in response.json()["errors"][0]["message"]
    assert error_fields(api.post("/SenderPools", json={"name": "bad", "senders": "x"})) == {
        "senders"
    }
    assert error_fields(api.post("/SenderPools", json={"name": "", "senders": []})) == {"name"}
    assert len(ok(api.get("/SenderPools"))["senderPools"]) == 1


def test_a_pool_is_updated_with_post_and_with_patch(api: httpx.Client) -> None:
    senders = default_senders(api)
    pool = created_pool(
        api.post("/SenderPools", json={"name": "one", "senders": [senders["RCS"], senders["SMS"]]})
    )

    posted = ok(
        api.post(
            f"/SenderPools/{pool['id']}",
            json={"senders": [senders["SMS"], senders["WHATSAPP"], senders["RCS"]]},
        )
    )
    assert posted["senders"] == [senders["SMS"], senders["WHATSAPP"], senders["RCS"]]
    assert posted["name"] == "one"
    patched = ok(api.patch(f"/SenderPools/{pool['id']}", json={"name": "two", "tags": {"k": "v"}}))
    assert patched["name"] == "two"
    assert patched["tags"] == {"k": "v"}
    assert patched["senders"] == posted["senders"]
    assert ok(api.get(f"/SenderPools/{pool['id']}")) == patched
    members = ok(api.get(f"/SenderPools/{pool['id']}/Senders"))["senders"]
    assert [s["channel"] for s in members] == ["SMS", "WHATSAPP", "RCS"]
    assert error_fields(
        api.patch(f"/SenderPools/{pool['id']}", json={"senders": [MISSING_SENDER]})
    ) == {"senders[0]"}
    assert error_fields(api.patch(f"/SenderPools/{pool['id']}", json={"default": "yes"})) == {
        "default"
    }
    assert ok(api.get(f"/SenderPools/{pool['id']}")) == patched


def test_another_pool_can_become_the_default(api: httpx.Client) -> None:
    senders = default_senders(api)
    old = default_pool(api)
    new = created_pool(api.post("/SenderPools", json={"name": "sms", "senders": [senders["SMS"]]}))

    updated = ok(api.patch(f"/SenderPools/{new['id']}", json={"default": True}))

    assert updated["default"] is True
    assert ok(api.get(f"/SenderPools/{old['id']}"))["default"] is False
    assert default_pool(api)["id"] == new["id"]
    # a send without `from` uses the new default pool
    (attempts,) = attempt_channels(api, {"to": [phone("0100")]})
    assert attempts == [("SMS", senders["SMS"])]
    # a pool created as the default takes it over
    rcs = created_pool(
        api.post("/SenderPools", json={"name": "rcs", "senders": [senders["RCS"]], "default": True})
    )
    assert rcs["default"] is True
    assert default_pool(api)["id"] == rcs["id"]
    assert ok(api.get(f"/SenderPools/{new['id']}"))["default"] is False


def test_the_default_pool_can_stop_being_the_default(api: httpx.Client) -> None:
    pool = default_pool(api)

    updated = ok(api.patch(f"/SenderPools/{pool['id']}", json={"default": False}))

    assert updated["default"] is False
    assert ok(api.get(f"/SenderPools/{pool['id']}"))["default"] is False
    response = api.post("/Messages", json={"to": [phone("0100")], "content": {"text": "Hi"}})
    assert error_fields(response) == {"from"}


def test_members_are_added_at_the_end_and_removed(api: httpx.Client) -> None:
    senders = default_senders(api)
    extra = create_sender(api, "+12065550106", "SMS")
    pool = created_pool(api.post("/SenderPools", json={"name": "p", "senders": [senders["RCS"]]}))

    added = api.post(
        f"/SenderPools/{pool['id']}/Senders",
        json={"senders": [extra["id"], senders["RCS"], senders["EMAIL"]]},
    )

    assert added.status_code == 202, added.text
    expected = [senders["RCS"], extra["id"], senders["EMAIL"]]
    assert added.json()["senders"] == expected
    members = ok(api.get(f"/SenderPools/{pool['id']}/Senders"))
    assert [s["id"] for s in members["senders"]] == expected
    assert members["senders"][1] == extra
    assert error_fields(
        api.post(f"/SenderPools/{pool['id']}/Senders", json={"senders": [MISSING_SENDER]})
    ) == {"senders[0]"}

    removed = api.delete(f"/SenderPools/{pool['id']}/Senders/{extra['id']}")

    assert removed.status_code == 204
    assert ok(api.get(f"/SenderPools/{pool['id']}"))["senders"] == [
        senders["RCS"],
        senders["EMAIL"],
    ]
    assert api.delete(f"/SenderPools/{pool['id']}/Senders/{extra['id']}").status_code == 404
    assert ok(api.get(f"/Senders/{extra['id']}")) == extra  # the sender itself remains


def test_a_deleted_pool_is_gone(api: httpx.Client) -> None:
    senders = default_senders(api)
    pool = created_pool(api.post("/SenderPools", json={"name": "p", "senders": [senders["SMS"]]}))

    assert api.delete(f"/SenderPools/{pool['id']}").status_code == 204

    assert api.get(f"/SenderPools/{pool['id']}").status_code == 404
    assert api.get(f"/SenderPools/{pool['id']}/Senders").status_code == 404
    assert api.patch(f"/SenderPools/{pool['id']}", json={"name": "q"}).status_code == 404
    assert api.delete(f"/SenderPools/{pool['id']}").status_code == 404
    assert ok(api.get(f"/Senders/{senders['SMS']}"))["id"] == senders["SMS"]
    response = api.post(
        "/Messages",
        json={
            "to": [phone("0100")],
            "content": {"text": "x"},
            "from": {"senderPoolId": pool["id"]},
        },
    )
    assert error_fields(response) == {"from.senderPoolId"}


def test_pools_are_listed_newest_first_in_pages(api: httpx.Client) -> None:
    senders = default_senders(api)
    made = [
        created_pool(api.post("/SenderPools", json={"name": f"p{n}", "senders": [senders["SMS"]]}))
        for n in range(4)
    ]

    pools = walk(api, "/SenderPools", "senderPools", pageSize=2)

    assert [p["id"] for p in pools] == [p["id"] for p in reversed(made)] + [default_pool(api)["id"]]


# --- choosing the sender of a send ----------------------------------------------------


def test_from_a_sender_address_uses_that_one_sender(api: httpx.Client) -> None:
    senders = default_senders(api)

    (attempts,) = attempt_channels(
        api, {"to": [phone("0001")], "from": {"address": "+15005550006", "channel": "SMS"}}
    )

    assert attempts == [("SMS", senders["SMS"])]
    (attempts,) = attempt_channels(
        api, {"to": [phone("0100")], "from": {"senderId": senders["WHATSAPP"]}}
    )
    assert attempts == [("WHATSAPP", senders["WHATSAPP"])]
    for sender, field in (
        ({"address": "+15005550099", "channel": "SMS"}, "from.address"),
        ({"senderId": MISSING_SENDER}, "from.senderId"),
        ({"senderPoolId": "comms_senderpool_01h2xcejqtf2nbrexx3vqjhp41"}, "from.senderPoolId"),
    ):
        response = api.post(
            "/Messages", json={"to": [phone("0100")], "content": {"text": "x"}, "from": sender}
        )
        assert error_fields(response) == {field}


def test_a_pools_senders_are_listed_in_its_order_in_pages(api: httpx.Client) -> None:
    senders = default_senders(api)
    extra = [create_sender(api, f"+1206555{n:04d}", "SMS")["id"] for n in range(300, 303)]
    order = [extra[1], senders["EMAIL"], extra[0], senders["RCS"], extra[2], senders["SMS"]]
    pool = created_pool(api.post("/SenderPools", json={"name": "big", "senders": order}))
    path = f"/SenderPools/{pool['id']}/Senders"

    members = walk(api, path, "senders", pageSize=4)

    assert [s["id"] for s in members] == order
    first = ok(api.get(path, params={"pageSize": 4}))
    assert len(first["senders"]) == 4
    assert first["pagination"]["next"] is not None
    second = ok(api.get(path, params={"pageSize": 4, "pageToken": first["pagination"]["next"]}))
    assert second["pagination"]["self"] == first["pagination"]["next"]
    assert second["pagination"]["next"] is None
    assert [s["id"] for s in second["senders"]] == order[4:]
    everything = ok(api.get(path))
    assert [s["id"] for s in everything["senders"]] == order
    assert everything["pagination"]["next"] is None
    assert error_fields(api.get(path, params={"pageToken": "garbage"})) == {"pageToken"}
    assert error_fields(api.get(path, params={"pageSize": 0})) == {"pageSize"}
    # a token of another list is not a position in this one
    senders_token = ok(api.get("/Senders", params={"pageSize": 1}))["pagination"]["next"]
    assert error_fields(api.get(path, params={"pageToken": senders_token})) == {"pageToken"}


def test_a_senders_address_must_fit_its_channel(api: httpx.Client) -> None:
    for address, channel in (
        ("+12065550107", "SMS"),
        ("55555", "SMS"),  # a short code
        ("ACME Bank", "SMS"),  # an alphanumeric sender id
        ("+12065550107", "WHATSAPP"),
        ("brand.agent_1", "RCS"),
        ("news@brand.example", "EMAIL"),
    ):
        create_sender(api, address, channel)
    for address, channel in (
        ("12065550108", "WHATSAPP"),
        ("ACME Bank Ltd.", "SMS"),
        ("+1206555 0108", "SMS"),
        ("not an email", "EMAIL"),
        ("brand agent", "RCS"),
        ("agent\x00", "RCS"),
        ("news@brand.example\n", "EMAIL"),
        ("", "SMS"),
    ):
        response = api.post("/Senders", json={"address": address, "channel": channel})
        assert error_fields(response) == {"address"}, (address, channel)


def test_durations_connectors_and_ids_that_cannot_be_are_refused(api: httpx.Client) -> None:
    sender = create_sender(api, "+12065550109", "SMS")
    path = f"/Senders/{sender['id']}"

    for value in ("31d", "99999999999999999999d", "-1s", "1e3s", "2S", "", 5):
        assert error_fields(api.patch(path, json={"fallbackTimeout": value})) == {"fallbackTimeout"}
        assert error_fields(api.patch(path, json={"receiptWait": value})) == {"receiptWait"}
    assert ok(api.patch(path, json={"fallbackTimeout": "30d"}))["fallbackTimeout"] == "30d"
    assert ok(api.patch(path, json={"receiptWait": "1.5s"}))["receiptWait"] == "1500ms"
    for connector in ([], {"name": "simulator"}, None, "Simulator"):
        assert error_fields(api.patch(path, json={"connector": connector})) == {"connector"}
    assert error_fields(api.post("/SenderPools", json={"name": "a\x00b"})) == {"name"}
    for bad_id in ("%00", "x", sender["id"] + "0", sender["id"].upper()):
        assert api.get(f"/Senders/{bad_id}").status_code == 404
        assert api.delete(f"/Senders/{bad_id}").status_code == 404
        assert api.get(f"/SenderPools/{bad_id}").status_code == 404
        assert api.delete(f"/SenderPools/{bad_id}").status_code == 404
    pool = default_pool(api)
    assert api.delete(f"/SenderPools/{pool['id']}/Senders/%00").status_code == 404
    assert error_fields(
        api.post(f"/SenderPools/{pool['id']}/Senders", json={"senders": ["x\x00"]})
    ) == {"senders[0]"}
