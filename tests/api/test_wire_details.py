"""The small wire details a client ported from Twilio reads: the 202's header names, the
planned `from` of a SCHEDULED Message, `from.senderPoolId`, the error body's names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support.polling import all_messages, send, wait_completed, wait_stats, wait_until

PHONE = {"address": "+14155550100", "channel": "PHONE"}
LATER = (datetime.now(UTC) + timedelta(days=2)).isoformat().replace("+00:00", "Z")


def first_sender(api: httpx.Client) -> tuple[str, dict[str, Any]]:
    pool = api.get("/SenderPools").json()["senderPools"][0]
    sender: dict[str, Any] = api.get(f"/Senders/{pool['senders'][0]}").json()
    return pool["id"], sender


def one_message(api: httpx.Client, operation_id: str) -> dict[str, Any]:
    (message,) = wait_until(lambda: all_messages(api, operationId=operation_id))
    return message


def test_the_202_carries_every_header_spelling_twilio_has_used(
    api: httpx.Client, server: Any
) -> None:
    response = api.post("/Messages", json={"to": [PHONE], "content": {"text": "Hi"}})

    assert response.status_code == 202
    operation_id = response.json()["operationId"]
    operation = f"/v1/Messages/Operations/{operation_id}"
    listed = f"/v1/Messages?operationId={operation_id}"
    for name in ("operationId", "operation-id", "X-Twilio-Operation-Id"):
        assert response.headers[name] == operation_id, name
    for name in ("Operation-Location", "operation-location", "Location"):
        assert response.headers[name] == operation, name
    for name in ("resource-location", "X-Twilio-Resource-Location"):
        assert response.headers[name] == listed, name
    assert api.get(response.headers["operation-location"].removeprefix("/v1")).status_code == 200
    wait_completed(api, operation_id)
    found = httpx.get(server.url + listed, auth=api.auth).json()["messages"]
    assert [m["related"][0]["id"] for m in found] == [operation_id]


def test_a_scheduled_message_shows_its_planned_from(api: httpx.Client) -> None:
    _, sender = first_sender(api)
    body = {"to": [PHONE], "content": {"text": "Hi"}, "schedule": {"sendAt": [LATER]}}

    message = one_message(api, send(api, body))
    fetched = api.get(f"/Messages/{message['id']}").json()

    assert message["status"] == "SCHEDULED"
    planned = {"address": sender["address"], "channel": sender["channel"], "senderId": sender["id"]}
    assert message["from"] == fetched["from"] == planned


def test_the_pool_a_send_named_is_echoed_in_from(api: httpx.Client) -> None:
    pool_id, sender = first_sender(api)
    named = {"senderPoolId": pool_id}
    scheduled = send(
        api,
        {"to": [PHONE], "content": {"text": "Hi"}, "from": named, "schedule": {"sendAt": [LATER]}},
    )
    now = send(api, {"to": [PHONE], "content": {"text": "Hi"}, "from": named})
    unnamed = send(api, {"to": [PHONE], "content": {"text": "Hi"}})
    wait_completed(api, now), wait_completed(api, unnamed)

    planned = one_message(api, scheduled)["from"]
    delivered = api.get(f"/Messages/{one_message(api, now)['id']}").json()

    assert planned == {
        "address": sender["address"],
        "channel": sender["channel"],
        "senderId": sender["id"],
        "senderPoolId": pool_id,
    }
    assert delivered["status"] in ("DELIVERED", "READ")
    assert delivered["from"]["senderPoolId"] == pool_id
    assert "senderPoolId" not in one_message(api, unnamed)["from"]


def test_the_error_body_has_twilios_more_info_and_the_contracts_more_info(
    api: httpx.Client,
) -> None:
    body = api.get("/Messages/comms_message_01h9krwprkeee8fzqspvwy6nq8").json()

    assert body["code"] == 20404
    assert body["more_info"] == body["moreInfo"] == "https://www.twilio.com/docs/errors/20404"


def test_a_read_message_counts_in_read_only(api: httpx.Client) -> None:
    operation_id = send(api, {"to": [PHONE], "content": {"text": "Hi"}})

    stats = wait_stats(api, operation_id, read=1)["stats"]

    # the buckets are the Messages' current statuses: READ is not also DELIVERED or SENT
    assert (stats["total"], stats["delivered"], stats["sent"]) == (1, 0, 0)
