"""The connector's `webhook`: Meta's handshake, its signature, and what a notification
reports (statuses as receipts, user messages as inbound), stored before the 200."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from opencomms.connectors.base import Inbound, Receipt, WebhookAnswer, WebhookRequest
from opencomms.connectors.whatsapp import WhatsAppConfig, WhatsAppConnector

SECRET, VERIFY = "app-secret-77ab", "verify-me-5d2"
NUMBER_ID = "106540352242922"
ATTEMPT = "SM" + "b2" * 16
WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"
CONFIG = WhatsAppConfig(
    phone_number_id=NUMBER_ID, access_token="EAAG-token-4c1e9", app_secret=SECRET,
    verify_token=VERIFY, base_url="http://127.0.0.1:9",
)  # fmt: skip


class Heard:
    def __init__(self) -> None:
        self.receipts: list[Receipt] = []
        self.inbound: list[Inbound] = []
        self.gate: asyncio.Future[None] | None = None  # set: stores wait for it

    def _stored(self) -> asyncio.Future[None]:
        if self.gate is not None:
            return self.gate
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def receipt(self, receipt: Receipt) -> asyncio.Future[None]:
        self.receipts.append(receipt)
        return self._stored()

    def message(self, message: Inbound) -> asyncio.Future[None]:
        self.inbound.append(message)
        return self._stored()


@pytest.fixture
async def rig() -> AsyncIterator[tuple[WhatsAppConnector, Heard]]:
    heard = Heard()
    connector = WhatsAppConnector("wa", CONFIG)
    await connector.start(heard.receipt, heard.message)
    yield connector, heard
    await connector.close()


def notification(**value: Any) -> bytes:
    metadata = {"display_phone_number": "15550783881", "phone_number_id": NUMBER_ID}
    change = {
        "field": "messages",
        "value": {"messaging_product": "whatsapp", "metadata": metadata, **value},
    }
    body = {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [change]}]}
    return json.dumps(body).encode()


def status(kind: str, *, data: str | None = ATTEMPT, code: int | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": WAMID,
        "status": kind,
        "timestamp": "1749416383",
        "recipient_id": "16505551234",
    }
    if data is not None:
        item["biz_opaque_callback_data"] = data
    if code is not None:
        item["errors"] = [
            {
                "code": code,
                "title": "Message undeliverable",
                "error_data": {"details": "Message Undeliverable."},
            }
        ]
    return item


def signed(body: bytes, secret: str = SECRET) -> WebhookRequest:
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"x-hub-signature-256": signature, "content-type": "application/json"}
    return WebhookRequest("POST", "https://comms.example.com/webhooks/wa", {}, headers, body)


async def test_the_handshake_echoes_the_challenge_for_our_verify_token(rig: Any) -> None:
    connector, _ = rig
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
    answer = await connector.webhook(WebhookRequest("GET", "https://x/webhooks/wa", query, {}, b""))
    assert answer == WebhookAnswer(200, b"1158201444", "text/plain")


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY, "hub.challenge": "1"},
        {},
    ],
)
async def test_a_handshake_without_our_verify_token_is_refused(
    rig: Any, query: dict[str, str]
) -> None:
    connector, _ = rig
    answer = await connector.webhook(WebhookRequest("GET", "https://x/webhooks/wa", query, {}, b""))
    assert answer.status == 403
    assert VERIFY.encode() not in answer.body


async def test_each_status_is_a_receipt_found_by_our_attempt_id_and_the_wamid(rig: Any) -> None:
    connector, heard = rig
    body = notification(statuses=[status("sent"), status("delivered"), status("read")])
    assert (await connector.webhook(signed(body))).status == 200
    assert heard.receipts == [
        Receipt("SENT", ATTEMPT, WAMID),
        Receipt("DELIVERED", ATTEMPT, WAMID),
        Receipt("READ", ATTEMPT, WAMID),
    ]
    assert await connector.was_submitted([ATTEMPT]) == {ATTEMPT: True}


async def test_a_failed_status_carries_its_mapped_error(rig: Any) -> None:
    connector, heard = rig
    body = notification(
        statuses=[status("failed", code=131026), status("failed", data=None, code=131047)]
    )
    assert (await connector.webhook(signed(body))).status == 200
    assert heard.receipts == [
        Receipt("UNDELIVERED", ATTEMPT, WAMID, 63024,
                "WhatsApp error 131026: Message undeliverable (Message Undeliverable.)"),
        Receipt("FAILED", None, WAMID, 63016,
                "WhatsApp error 131047: Message undeliverable (Message Undeliverable.)"),
    ]  # fmt: skip


async def test_a_status_that_shows_nothing_is_acknowledged_and_not_reported(rig: Any) -> None:
    connector, heard = rig
    body = notification(statuses=[status("played"), status("deleted")])
    assert (await connector.webhook(signed(body))).status == 200
    assert heard.receipts == []


async def test_user_messages_are_inbound_from_the_user_to_our_number(rig: Any) -> None:
    connector, heard = rig
    user = {"from": "16505551234", "timestamp": "1749416383"}
    messages = [
        {**user, "id": "wamid.1", "type": "text", "text": {"body": "STOP"}},
        {**user, "id": "wamid.2", "type": "button", "button": {"text": "Yes", "payload": "y"}},
        {**user, "id": "wamid.3", "type": "interactive",
         "interactive": {"type": "button_reply", "button_reply": {"id": "b1", "title": "Later"}}},
        {**user, "id": "wamid.4", "type": "image", "image": {"id": "m1", "caption": "look"}},
        {**user, "id": "wamid.5", "type": "location", "location": {"latitude": 1, "longitude": 2}},
    ]  # fmt: skip
    assert (await connector.webhook(signed(notification(messages=messages)))).status == 200
    assert heard.inbound == [
        Inbound("wa", "WHATSAPP", "+16505551234", "+15550783881", text, f"wamid.{n}")
        for n, text in enumerate(("STOP", "Yes", "Later", "look", ""), start=1)
    ]


async def test_nothing_is_heard_without_a_valid_signature(rig: Any) -> None:
    connector, heard = rig
    body = notification(statuses=[status("delivered")])
    unsigned = WebhookRequest("POST", "https://x/webhooks/wa", {}, {}, body)
    assert (await connector.webhook(unsigned)).status == 401
    assert (await connector.webhook(signed(body, "another-secret"))).status == 403
    tampered = signed(body)
    changed = body.replace(b"delivered", b"read")
    tampered = WebhookRequest("POST", tampered.url, {}, tampered.headers, changed)
    assert (await connector.webhook(tampered)).status == 403
    assert heard.receipts == []


@pytest.mark.parametrize(
    "body", [b"{not json", b"[]", b'{"object": "whatsapp_business_account"}', b'{"entry": 3}', b""]
)
async def test_a_signed_body_that_is_not_a_notification_is_a_400(rig: Any, body: bytes) -> None:
    connector, heard = rig
    assert (await connector.webhook(signed(body))).status == 400
    assert heard.receipts == heard.inbound == []


async def test_a_notification_about_another_number_is_acknowledged_and_skipped(rig: Any) -> None:
    connector, heard = rig
    body = notification(statuses=[status("delivered")]).replace(NUMBER_ID.encode(), b"999")
    assert (await connector.webhook(signed(body))).status == 200
    assert heard.receipts == []


async def test_the_answer_waits_until_every_report_is_stored(rig: Any) -> None:
    connector, heard = rig
    heard.gate = asyncio.get_running_loop().create_future()
    message = {"from": "16505551234", "id": "wamid.9", "type": "text", "text": {"body": "hi"}}
    body = notification(statuses=[status("delivered")], messages=[message])
    answering = asyncio.create_task(connector.webhook(signed(body)))
    await asyncio.sleep(0.05)
    assert not answering.done()
    assert len(heard.receipts) == len(heard.inbound) == 1
    heard.gate.set_result(None)
    assert (await answering).status == 200


async def test_a_store_that_fails_fails_the_answer(rig: Any) -> None:
    """The route answers 503 on the exception, so Meta sends the notification again."""
    connector, heard = rig
    heard.gate = asyncio.get_running_loop().create_future()
    heard.gate.set_exception(OSError("disk full"))
    with pytest.raises(OSError, match="disk full"):
        await connector.webhook(signed(notification(statuses=[status("delivered")])))
