"""Opt-outs: the suppression list, its effect on sends, and STOP/START keywords."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.support.polling import (
    all_messages,
    assert_stats_consistent,
    send,
    wait_completed,
    wait_until,
)


def number(ending: str = "") -> str:
    """A number of its own for each test (the server is shared by the session)."""
    digits = f"{random.randrange(10**6):06d}"
    return f"+1415{digits}{ending or f'{random.randrange(10**4):04d}'}"


def test_an_opt_out_is_added_listed_fetched_and_deleted(api: httpx.Client) -> None:
    created = api.post("/OptOuts", json={"address": "+14155550100"})
    assert created.status_code == 201
    body = created.json()
    assert (body["address"], body["channel"], body["source"]) == ("+14155550100", None, "API")
    email = api.post("/OptOuts", json={"address": "Ann@Example.com", "channel": "EMAIL"})
    assert email.json()["address"] == "ann@example.com"

    listed = api.get("/OptOuts", params={"pageSize": 1}).json()
    assert [entry["address"] for entry in listed["optOuts"]] == ["ann@example.com"]
    rest = api.get("/OptOuts", params={"pageToken": listed["pagination"]["next"]}).json()
    assert [entry["address"] for entry in rest["optOuts"]] == ["+14155550100"]
    assert api.get("/OptOuts/+14155550100").json()["id"] == body["id"]

    assert api.delete("/OptOuts/+14155550100").status_code == 204
    assert api.get("/OptOuts/+14155550100").status_code == 404
    assert api.delete("/OptOuts/+14155550100").status_code == 404


def test_adding_an_address_again_updates_its_entry(api: httpx.Client) -> None:
    first = api.post("/OptOuts", json={"address": "+14155550101", "channel": "SMS"}).json()
    second = api.post("/OptOuts", json={"address": "+14155550101"}).json()
    assert (second["id"], second["channel"]) == (first["id"], None)
    assert len(api.get("/OptOuts").json()["optOuts"]) == 1


def test_a_bad_opt_out_lists_every_problem_and_changes_nothing(api: httpx.Client) -> None:
    response = api.post("/OptOuts", json={"address": "0415", "channel": "FAX", "why": "x"})
    assert response.status_code == 400
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"address", "channel", "why"}
    assert api.get("/OptOuts").json()["optOuts"] == []


@pytest.mark.parametrize("channel", [[], ["SMS"], {}, {"SMS": 1}, 1, True])
def test_a_channel_that_is_not_a_string_is_a_400(api: httpx.Client, channel: object) -> None:
    response = api.post("/OptOuts", json={"address": number(), "channel": channel})

    assert response.status_code == 400, response.text
    assert [error["field"] for error in response.json()["errors"]] == ["channel"]
    assert api.get("/OptOuts").json()["optOuts"] == []


def test_an_opt_out_channel_may_be_lowercase(api: httpx.Client) -> None:
    response = api.post("/OptOuts", json={"address": "+14155550103", "channel": "whatsapp"})

    assert response.status_code == 201, response.text
    assert response.json()["channel"] == "WHATSAPP"


def test_an_opted_out_recipient_gets_no_attempt_and_fails_with_21610(api: httpx.Client) -> None:
    blocked, other = number(), number()
    api.post("/OptOuts", json={"address": blocked})
    to = [{"address": a, "channel": "PHONE"} for a in (blocked, other)]
    operation_id = send(api, {"to": to, "content": {"text": "Hello"}})

    stats = wait_completed(api, operation_id)["stats"]

    assert_stats_consistent(stats)
    assert (stats["failed"], stats["delivered"] + stats["read"]) == (1, 1)
    failed = next(m for m in all_messages(api, operationId=operation_id) if m["status"] == "FAILED")
    assert failed["to"][0]["address"] == blocked
    assert failed["error"]["code"] == 21610
    assert api.get(f"/Messages/{failed['id']}").json()["attempts"] == []


def test_an_opt_out_of_one_channel_skips_only_that_channel(api: httpx.Client) -> None:
    recipient = number()
    api.post("/OptOuts", json={"address": recipient, "channel": "RCS"})
    operation_id = send(
        api, {"to": [{"address": recipient, "channel": "PHONE"}], "content": {"text": "Hi"}}
    )
    wait_completed(api, operation_id)

    (message,) = all_messages(api, operationId=operation_id)
    attempts = api.get(f"/Messages/{message['id']}").json()["attempts"]
    assert message["status"] in ("DELIVERED", "READ")
    assert attempts and "RCS" not in {attempt["from"]["channel"] for attempt in attempts}


def test_a_stop_reply_opts_the_recipient_out_of_later_sends(api: httpx.Client) -> None:
    replies_stop = number("0009")  # the simulator's recipient answers STOP (SIMULATOR.md)
    first = send(
        api, {"to": [{"address": replies_stop, "channel": "PHONE"}], "content": {"text": "Hi"}}
    )
    wait_completed(api, first)

    entry = wait_until(lambda: (r := api.get(f"/OptOuts/{replies_stop}")).is_success and r.json())
    assert (entry["source"], entry["channel"]) == ("KEYWORD", None)
    again = send(
        api, {"to": [{"address": replies_stop, "channel": "PHONE"}], "content": {"text": "Hi"}}
    )
    wait_completed(api, again)
    (message,) = all_messages(api, operationId=again)
    assert (message["status"], message["error"]["code"]) == ("FAILED", 21610)


def test_an_opt_out_after_a_send_was_scheduled_still_applies(api: httpx.Client) -> None:
    recipient = number()
    send_at = (datetime.now(UTC) + timedelta(seconds=2)).isoformat().replace("+00:00", "Z")
    operation_id = send(
        api,
        {
            "to": [{"address": recipient, "channel": "PHONE"}],
            "content": {"text": "Tomorrow's sale"},
            "schedule": {"sendAt": [send_at]},
        },
    )
    wait_until(lambda: all_messages(api, operationId=operation_id))

    api.post("/OptOuts", json={"address": recipient})

    stats = wait_completed(api, operation_id)["stats"]
    assert_stats_consistent(stats)
    (message,) = all_messages(api, operationId=operation_id)
    assert (message["status"], message["error"]["code"]) == ("FAILED", 21610)
    assert api.get(f"/Messages/{message['id']}").json()["attempts"] == []
