"""Sending with a content template (`content.contentId`), through real HTTP on both engines:
each recipient's Message carries the template made into every channel's module and
rendered with its variables; the simulator's pool (RCS → WhatsApp → SMS) shows which
module each attempt's channel took."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from opencomms.engine.planning import content_for_channel
from tests.support.polling import all_messages, send, wait_completed
from tests.support.server import ThreadServer, account_client

TEMPLATE: dict[str, Any] = {
    "friendly_name": "order shipped",
    "language": "en",
    "variables": {"1": "there", "2": "0000"},
    "types": {
        "twilio/text": {"body": "Hi {{1}}, order {{2}} ships today."},
        "twilio/card": {
            "title": "Hi {{1}}",
            "body": "Order {{ 2 }} ships today.",
            "media": ["https://cdn.example.com/{{2}}.png"],
            "actions": [
                {"type": "URL", "title": "Track", "url": "https://example.com/t/{{2}}"},
                {"type": "QUICK_REPLY", "title": "Thanks {{1}}", "id": "thanks"},
            ],
        },
        "whatsapp/template": {"name": "order_shipped", "language": "en_US"},
    },
}


@pytest.fixture
def other_api(server: ThreadServer) -> Iterator[httpx.Client]:
    with account_client(server) as client:
        yield client


def number(ending: str) -> str:
    """A number of its own for each test, with the simulator's magic `ending`."""
    return f"+1415{random.randrange(10**6):06d}{ending}"


def template(api: httpx.Client, body: dict[str, Any] = TEMPLATE) -> str:
    response = api.post("/Content", json=body)
    assert response.status_code == 201, response.text
    sid: str = response.json()["sid"]
    return sid


def fetched(api: httpx.Client, operation_id: str) -> dict[str, dict[str, Any]]:
    """The operation's Messages with their content and attempts, by address."""
    found = {}
    for listed in all_messages(api, operationId=operation_id):
        message = api.get(f"/Messages/{listed['id']}").json()
        found[message["to"][0]["address"]] = message
    return found


def channels(message: dict[str, Any]) -> list[tuple[str, str]]:
    """Each attempt's channel and status; READ shows as DELIVERED (it was, then read)."""
    return [
        (a["from"]["channel"], "DELIVERED" if a["status"] == "READ" else a["status"])
        for a in message["attempts"]
    ]


def test_each_recipient_gets_the_template_rendered_for_each_channel(api: httpx.Client) -> None:
    sid = template(api)
    rcs, whatsapp, sms = number("0100"), number("0001"), number("0003")
    to = [
        {"address": rcs, "channel": "PHONE", "variables": {"1": "Ada", "2": "A-1"}},
        {"address": whatsapp, "channel": "PHONE", "variables": {"1": "Grace"}},
        {"address": sms, "channel": "PHONE"},
    ]
    operation_id = send(api, {"to": to, "content": {"contentId": sid}})
    wait_completed(api, operation_id)
    messages = fetched(api, operation_id)

    ada = messages[rcs]
    assert ada["content"]["contentId"] == sid
    assert ada["content"]["text"] == "Hi Ada, order A-1 ships today."
    assert channels(ada)[-1][0] == "RCS"
    assert content_for_channel(ada["content"], "RCS") == {
        "card": {
            "title": "Hi Ada",
            "description": "Order A-1 ships today.",
            "media": {"url": "https://cdn.example.com/A-1.png"},
            "suggestions": [
                {"action": {"text": "Track", "postbackData": "Track",
                            "openUrl": {"url": "https://example.com/t/A-1"}}},
                {"reply": {"text": "Thanks Ada", "postbackData": "thanks"}},
            ],
        }
    }  # fmt: skip

    grace = messages[whatsapp]  # no RCS: WhatsApp, as an approved template
    assert channels(grace) == [("RCS", "FAILED"), ("WHATSAPP", "DELIVERED")]
    assert content_for_channel(grace["content"], "WHATSAPP") == {
        "template": {
            "name": "order_shipped",
            "language": "en_US",
            "components": [{"type": "body", "parameters": [
                {"type": "text", "text": "Grace"},
                {"type": "text", "text": "0000"},  # the template's default
            ]}],
        }
    }  # fmt: skip

    nobody = messages[sms]  # neither RCS nor WhatsApp: SMS, the text with the defaults
    assert channels(nobody) == [("RCS", "FAILED"), ("WHATSAPP", "FAILED"), ("SMS", "DELIVERED")]
    assert content_for_channel(nobody["content"], "SMS") == {
        "text": "Hi there, order 0000 ships today."
    }
    assert nobody["segments"] == 1


def test_the_sends_variables_come_between_the_recipients_and_the_templates(
    api: httpx.Client,
) -> None:
    sid = template(api)
    to = [
        {"address": number("0003"), "channel": "PHONE", "variables": {"1": "Ada"}},
        {"address": number("0003"), "channel": "PHONE", "variables": {"1": "Bo", "2": ""}},
    ]
    content = {"contentId": sid, "variables": {"2": "B-7"}}
    operation_id = send(api, {"to": to, "content": content})
    wait_completed(api, operation_id)

    texts = {m["content"]["modules"]["sms"]["text"] for m in fetched(api, operation_id).values()}

    # a variable given empty is empty: only a missing one takes the default
    assert texts == {"Hi Ada, order B-7 ships today.", "Hi Bo, order  ships today."}


def test_an_email_recipient_gets_the_text(api: httpx.Client) -> None:
    sid = template(api)
    to = [{"address": "ann@example.com", "channel": "EMAIL", "variables": {"1": "Ann"}}]
    operation_id = send(api, {"to": to, "content": {"contentId": sid}})
    wait_completed(api, operation_id)

    (message,) = fetched(api, operation_id).values()

    assert channels(message) == [("EMAIL", "DELIVERED")]
    assert content_for_channel(message["content"], "EMAIL") == {
        "text": "Hi Ann, order 0000 ships today."
    }


def test_media_goes_to_sms_whole_and_to_rcs_and_whatsapp_first(api: httpx.Client) -> None:
    urls = ["https://cdn.example.com/a.png", "https://cdn.example.com/{{1}}.png"]
    sid = template(api, {
        "language": "en",
        "types": {"twilio/media": {"body": "Your {{1}} pictures", "media": urls}},
    })  # fmt: skip
    to = [{"address": number("0003"), "channel": "PHONE", "variables": {"1": "b"}}]
    operation_id = send(api, {"to": to, "content": {"contentId": sid}})
    wait_completed(api, operation_id)

    (message,) = fetched(api, operation_id).values()
    modules = message["content"]["modules"]

    both = [{"url": "https://cdn.example.com/a.png"}, {"url": "https://cdn.example.com/b.png"}]
    assert modules["sms"] == {"text": "Your b pictures", "media": both}
    assert modules["rcs"] == modules["whatsapp"] == {"text": "Your b pictures", "media": both[:1]}
    assert channels(message)[-1] == ("SMS", "DELIVERED")


def test_text_that_looks_like_liquid_stays_as_written(api: httpx.Client) -> None:
    body = "{% if x %}{{ name | upcase }} {{{1}}} {{ 1 }} {"
    sid = template(api, {"language": "en", "types": {"twilio/text": {"body": body}}})
    to = [{"address": number("0003"), "channel": "PHONE", "variables": {"1": "Ada", "x": "1"}}]
    operation_id = send(api, {"to": to, "content": {"contentId": sid}})
    wait_completed(api, operation_id)

    (message,) = fetched(api, operation_id).values()

    assert message["content"]["text"] == "{% if x %}{{ name | upcase }} {Ada} Ada {"
    assert channels(message)[-1] == ("SMS", "DELIVERED")


def test_an_unknown_content_id_is_a_400_and_nothing_is_stored(api: httpx.Client) -> None:
    unknown = "HX" + "0" * 32
    to = [{"address": number("0100"), "channel": "PHONE"}, {"address": "nope", "channel": "PHONE"}]
    response = api.post("/Messages", json={"to": to, "content": {"contentId": unknown}})

    assert response.status_code == 400
    fields = {error["field"]: error["message"] for error in response.json()["errors"]}
    assert set(fields) == {"content.contentId", "to[1].address"}
    assert unknown in fields["content.contentId"]
    assert api.get("/Messages/Operations").json()["operations"] == []


def test_another_accounts_template_cannot_be_sent(
    api: httpx.Client, other_api: httpx.Client
) -> None:
    sid = template(other_api)
    to = [{"address": number("0100"), "channel": "PHONE"}]

    response = api.post("/Messages", json={"to": to, "content": {"contentId": sid}})

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["content.contentId"]


def test_a_content_id_is_checked_for_form_and_alone(api: httpx.Client) -> None:
    to = [{"address": number("0100"), "channel": "PHONE"}]
    cases = [
        ({"contentId": "HX123"}, {"content.contentId"}),
        ({"contentId": 7}, {"content.contentId"}),
        ({"contentId": "HX" + "0" * 32, "text": "Hi"}, {"content.text"}),
        ({"contentId": "HX" + "0" * 32, "variables": {"1": ["x"]}}, {"content.variables.1"}),
    ]
    for content, fields in cases:
        response = api.post("/Messages", json={"to": to, "content": content})
        assert response.status_code == 400, content
        assert {error["field"] for error in response.json()["errors"]} == fields, content


def test_a_whatsapp_only_template_needs_whatsapp_senders(api: httpx.Client) -> None:
    sid = template(api, {
        "language": "en",
        "variables": {"1": "there"},
        "types": {"whatsapp/template": {"name": "hello_world"}},
    })  # fmt: skip
    to = [{"address": number("0100"), "channel": "PHONE", "variables": {"1": "Ada"}}]

    refused = api.post("/Messages", json={"to": to, "content": {"contentId": sid}})
    assert refused.status_code == 400
    (problem,) = refused.json()["errors"]
    assert problem["field"] == "content.contentId"
    assert "RCS" in problem["message"] and "SMS" in problem["message"]

    (sender,) = api.get("/Senders", params={"channel": "WHATSAPP"}).json()["senders"]
    body = {"to": to, "from": {"senderId": sender["id"]}, "content": {"contentId": sid}}
    # a WHATSAPP recipient: of the default pool, only its WhatsApp sender reaches it
    only_whatsapp = [{**to[0], "address": number("0100"), "channel": "WHATSAPP"}]
    for accepted in (body, {"to": only_whatsapp, "content": {"contentId": sid}}):
        operation_id = send(api, accepted)
        wait_completed(api, operation_id)
        (message,) = fetched(api, operation_id).values()
        assert channels(message) == [("WHATSAPP", "DELIVERED")]
        assert message["content"]["modules"] == {"whatsapp": {"template": {
            "name": "hello_world",
            "language": "en",
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ada"}]}],
        }}}  # fmt: skip


def test_deleting_a_template_leaves_accepted_sends_as_they_were(api: httpx.Client) -> None:
    sid = template(api)
    to = [
        {"address": number("0003"), "channel": "PHONE", "variables": {"1": f"R{i}"}}
        for i in range(20)
    ]
    operation_id = send(api, {"to": to, "content": {"contentId": sid}})
    assert api.delete(f"/Content/{sid}").status_code == 204

    final = wait_completed(api, operation_id)

    assert final["stats"]["delivered"] + final["stats"]["read"] == 20
    texts = {m["content"]["text"] for m in fetched(api, operation_id).values()}
    assert texts == {f"Hi R{i}, order 0000 ships today." for i in range(20)}
    again = api.post("/Messages", json={"to": to[:1], "content": {"contentId": sid}})
    assert again.status_code == 400
