"""Sending: the 202 contract, fan-out into one Message per recipient, and fallback."""

from __future__ import annotations

import re

import httpx

from tests.support.polling import all_messages, send, wait_completed, wait_stats

OPERATION_ID = re.compile(r"^comms_operation_[0-7][0-9a-hjkmnp-tv-z]{25}$")


def phone(ending: str) -> dict[str, str]:
    return {"address": f"+1415555{ending}", "channel": "PHONE"}


def test_send_answers_202_with_the_operation_in_body_and_headers(api: httpx.Client) -> None:
    response = api.post("/Messages", json={"to": [phone("0100")], "content": {"text": "Hi"}})

    assert response.status_code == 202
    operation_id = response.json()["operationId"]
    assert OPERATION_ID.match(operation_id)
    location = f"/v1/Messages/Operations/{operation_id}"
    assert response.headers["operationId"] == operation_id
    assert response.headers["Operation-Location"] == location
    assert response.headers["Location"] == location
    assert response.json()["operationLocation"].endswith(location)
    assert response.json()["operationLocation"].startswith("http://127.0.0.1:")


def test_preview_is_an_alias_of_v1(api: httpx.Client) -> None:
    url = str(api.base_url).replace("/v1", "/preview")
    response = api.post(url + "/Messages", json={"to": [phone("0100")], "content": {"text": "Hi"}})

    assert response.status_code == 202
    operation_id = response.json()["operationId"]
    assert response.headers["Location"] == f"/preview/Messages/Operations/{operation_id}"
    assert api.get(f"{url}/Messages/Operations/{operation_id}").json()["id"] == operation_id


def test_an_operation_completes_with_one_message_per_recipient(api: httpx.Client) -> None:
    recipients = [phone(f"{n:04d}") for n in range(100, 130)]
    operation_id = send(api, {"to": recipients, "content": {"text": "Hello"}})

    wait_completed(api, operation_id)

    # ordinary numbers go out on RCS (the pool's first sender) and are read
    final = wait_stats(api, operation_id, read=30)
    assert final["stats"]["recipients"] == 30
    assert final["stats"]["total"] == 30
    assert final["stats"]["attempts"] == 30
    messages = all_messages(api, operationId=operation_id)
    assert sorted(m["to"][0]["address"] for m in messages) == sorted(
        r["address"] for r in recipients
    )
    assert len({m["id"] for m in messages}) == 30


def test_fallback_follows_the_pool_order(api: httpx.Client) -> None:
    operation_id = send(
        api,
        {
            "to": [phone("0001"), phone("0003"), phone("0004"), phone("0005")],
            "content": {"text": "Hi {{name | default: 'there'}}"},
        },
    )

    wait_completed(api, operation_id)
    final = wait_stats(api, operation_id, read=2)

    by_address = {}
    for message in all_messages(api, operationId=operation_id):
        fetched = api.get(f"/Messages/{message['id']}").json()
        by_address[message["to"][0]["address"][-4:]] = fetched
    channels = {
        k: [(a["from"]["channel"], a["status"]) for a in v["attempts"]]
        for k, v in by_address.items()
    }
    assert channels["0001"] == [("RCS", "FAILED"), ("WHATSAPP", "READ")]
    assert channels["0003"] == [("RCS", "FAILED"), ("WHATSAPP", "FAILED"), ("SMS", "DELIVERED")]
    sms_attempt = by_address["0003"]["attempts"][2]
    assert (sms_attempt["encoding"], sms_attempt["segments"]) == ("GSM-7", 1)
    assert "segments" not in by_address["0003"]["attempts"][0]
    # 0004: RCS works, so the SMS-only failure is never reached
    assert channels["0004"] == [("RCS", "READ")]
    assert channels["0005"] == [("RCS", "FAILED"), ("WHATSAPP", "FAILED"), ("SMS", "FAILED")]
    assert by_address["0001"]["attempts"][0]["error"]["code"] == 61337
    assert by_address["0005"]["status"] == "FAILED"
    assert by_address["0003"]["content"] == {"text": "Hi there"}
    assert final["stats"]["attempts"] == 2 + 3 + 1 + 3
    assert final["stats"]["failed"] == 1
    assert final["stats"]["delivered"] == 1
    assert final["stats"]["read"] == 2


def test_sms_undelivered_receipt_is_final_when_sms_is_the_last_sender(api: httpx.Client) -> None:
    sms = api.post("/Senders", json={"address": "+12065550123", "channel": "SMS"}).json()
    operation_id = send(
        api,
        {"to": [phone("0004")], "content": {"text": "Hi"}, "from": {"senderId": sms["id"]}},
    )

    final = wait_completed(api, operation_id)

    assert final["stats"]["undelivered"] == 1
    (message,) = all_messages(api, operationId=operation_id)
    fetched = api.get(f"/Messages/{message['id']}").json()
    assert fetched["attempts"][0]["error"]["code"] == 30003
    assert fetched["from"] == {"address": "+12065550123", "channel": "SMS", "senderId": sms["id"]}


def test_no_receipt_falls_back_after_the_timeout_then_settles_as_sent(api: httpx.Client) -> None:
    operation_id = send(api, {"to": [phone("0006")], "content": {"text": "Hi"}})

    final = wait_completed(api, operation_id, timeout=30)

    (message,) = all_messages(api, operationId=operation_id)
    fetched = api.get(f"/Messages/{message['id']}").json()
    assert [a["from"]["channel"] for a in fetched["attempts"]] == ["RCS", "WHATSAPP", "SMS"]
    assert [a["status"] for a in fetched["attempts"]] == ["SENT", "SENT", "SENT"]
    assert fetched["status"] == "SENT"
    assert final["stats"]["sent"] == 1


def test_a_throttled_submit_is_retried_without_a_new_attempt(api: httpx.Client) -> None:
    operation_id = send(api, {"to": [phone("0007")], "content": {"text": "Hi"}})

    final = wait_completed(api, operation_id)

    assert final["stats"]["attempts"] == 1
    assert final["stats"]["delivered"] == 1


def test_email_recipients_use_the_email_sender(api: httpx.Client) -> None:
    to = [
        {"address": "ada@example.com", "channel": "EMAIL"},
        {"address": "fail@example.com", "channel": "EMAIL"},
        {"address": "bounce@example.com", "channel": "EMAIL"},
    ]
    operation_id = send(api, {"to": to, "content": {"text": "Hi"}})

    final = wait_completed(api, operation_id)

    assert (
        final["stats"]["delivered"],
        final["stats"]["failed"],
        final["stats"]["undelivered"],
    ) == (1, 1, 1)


def test_recipients_no_sender_can_reach_are_unaddressable(api: httpx.Client) -> None:
    sms = api.post("/Senders", json={"address": "+12065550124", "channel": "SMS"}).json()
    to = [
        phone("0100"),
        {"address": "ada@example.com", "channel": "EMAIL"},
        {"address": "+14155550101", "channel": "WHATSAPP"},
    ]
    operation_id = send(api, {"to": to, "content": {"text": "Hi"}, "from": {"senderId": sms["id"]}})

    final = wait_completed(api, operation_id)

    assert final["stats"]["recipients"] == 3
    assert final["stats"]["total"] == 1
    assert final["stats"]["unaddressable"] == 2
    assert len(all_messages(api, operationId=operation_id)) == 1


def test_a_person_with_several_addresses_is_tried_in_order(api: httpx.Client) -> None:
    to = [
        {
            "addresses": [
                {"address": "+14155550005", "channel": "PHONE"},
                {"address": "grace@example.com", "channel": "EMAIL"},
            ]
        }
    ]
    operation_id = send(api, {"to": to, "content": {"text": "Hi"}})

    wait_completed(api, operation_id)

    (message,) = all_messages(api, operationId=operation_id)
    fetched = api.get(f"/Messages/{message['id']}").json()
    assert [a["from"]["channel"] for a in fetched["attempts"]] == [
        "RCS",
        "WHATSAPP",
        "SMS",
        "EMAIL",
    ]
    assert fetched["status"] == "DELIVERED"
    assert len(fetched["to"]) == 2


RICH_CARD = {
    "rcs": {
        "richCard": {
            "standaloneCard": {
                "cardContent": {
                    "title": "Hello {{name}}",
                    "suggestions": [{"reply": {"text": "Yes, {{name}}", "postbackData": "yes"}}],
                }
            }
        }
    }
}


def test_liquid_inside_a_rich_card_is_rendered_per_recipient(api: httpx.Client) -> None:
    to = [{"address": "+14155550100", "channel": "PHONE", "variables": {"name": "Ada"}}]
    operation_id = send(
        api, {"to": to, "content": {"modules": [RICH_CARD, {"sms": {"text": "Hi {{name}}"}}]}}
    )
    wait_completed(api, operation_id)

    (message,) = all_messages(api, operationId=operation_id)
    content = api.get(f"/Messages/{message['id']}").json()["content"]
    card = content["modules"]["rcs"]["richCard"]["standaloneCard"]["cardContent"]
    assert card["title"] == "Hello Ada"
    assert card["suggestions"][0]["reply"] == {"text": "Yes, Ada", "postbackData": "yes"}
    assert content["modules"]["sms"] == {"text": "Hi Ada"}


def test_a_broken_template_inside_a_rich_card_is_named(api: httpx.Client) -> None:
    card = {"rcs": {"richCard": {"standaloneCard": {"cardContent": {"title": "{% if %}"}}}}}
    response = api.post(
        "/Messages",
        json={
            "to": [{"address": "+14155550100", "channel": "PHONE"}],
            "content": {"modules": [card]},
        },
    )

    assert response.status_code == 400
    fields = [e["field"] for e in response.json()["errors"]]
    assert fields == ["content.modules[0].rcs.richCard.standaloneCard.cardContent.title"]


def test_a_recipient_whose_template_fails_to_render_is_failed_not_sent_empty(
    api: httpx.Client,
) -> None:
    to = [
        {"address": "+14155550100", "channel": "PHONE", "variables": {"n": "4"}},
        {"address": "+14155550101", "channel": "PHONE", "variables": {"n": "x" * 1_000}},
    ]
    text = "Total " + "{{ n }}" * 21  # 21,000 characters for the second: over the limit
    operation_id = send(api, {"to": to, "content": {"text": text}})

    wait_completed(api, operation_id)
    final = wait_stats(api, operation_id, read=1)

    assert final["stats"]["failed"] == 1
    by_address = {m["to"][0]["address"]: m for m in all_messages(api, operationId=operation_id)}
    failed = api.get(f"/Messages/{by_address['+14155550101']['id']}").json()
    assert failed["status"] == "FAILED"
    assert failed["error"]["code"] == 30099
    assert failed["attempts"] == []
    assert api.get(f"/Messages/{by_address['+14155550100']['id']}").json()["content"] == {
        "text": "Total " + "4" * 21
    }
