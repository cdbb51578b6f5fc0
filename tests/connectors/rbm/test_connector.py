"""The rbm connector against a scripted RBM on 127.0.0.1: sends, revokes, webhooks."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from opencomms.connectors.base import (
    Inbound,
    Receipt,
    Submission,
    SubmitOutcome,
    SubmitResult,
    WebhookRequest,
)
from opencomms.connectors.rbm import RbmConnector
from opencomms.connectors.rbm.connector import message_id_for
from opencomms.connectors.rbm.webhook import sign
from tests.connectors.rbm.conftest import CLIENT_TOKEN, Scripted, rbm_config

ACCEPTED, REJECTED, THROTTLED = SubmitOutcome
ATTEMPT = "SM" + "ab" * 16
SUBMISSION = Submission(
    attempt_id=ATTEMPT,
    message_id="comms_message_1",
    operation_id="comms_operation_1",
    account_sid="AC" + "0" * 32,
    channel="RCS",
    from_address="acme_agent",
    to_address="+14155551234",
    content={"text": "Hello"},
    valid_for_ms=60_000,
)


class Heard:
    def __init__(self) -> None:
        self.receipts: list[Receipt] = []
        self.inbound: list[Inbound] = []
        self.store: asyncio.Future[None] | None = None  # when set: stored once it is done

    def receipt(self, receipt: Receipt) -> asyncio.Future[None]:
        self.receipts.append(receipt)
        return self._stored()

    def message(self, inbound: Inbound) -> asyncio.Future[None]:
        self.inbound.append(inbound)
        return self._stored()

    def _stored(self) -> asyncio.Future[None]:
        if self.store is not None:
            return self.store
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


@pytest.fixture
def heard() -> Heard:
    return Heard()


@pytest.fixture
async def connector(scripted: Scripted, heard: Heard) -> AsyncIterator[RbmConnector]:
    rbm = RbmConnector("rcs", rbm_config(scripted.url, scripted.url + "/token"))
    rbm.backoff_min = 0.25
    await rbm.start(heard.receipt, heard.message)
    try:
        yield rbm
    finally:
        await rbm.close()


def to(number: str, attempt: str = ATTEMPT, **changes: Any) -> Submission:
    return msgspec.structs.replace(SUBMISSION, to_address=number, attempt_id=attempt, **changes)


# --- sending --------------------------------------------------------------------------


async def test_a_send_posts_the_message_with_its_id_and_ttl(
    scripted: Scripted, connector: RbmConnector
) -> None:
    answered: list[SubmitResult] = []
    results = await connector.submit([SUBMISSION], answered.append)
    message_id = message_id_for(ATTEMPT)
    assert results == answered == [SubmitResult(ATTEMPT, ACCEPTED, provider_message_id=message_id)]
    assert uuid.UUID(message_id).version == 5
    assert scripted.requests == [
        (
            "POST",
            "/v1/phones/+14155551234/agentMessages",
            {"messageId": message_id, "agentId": "acme_agent"},
            {"contentMessage": {"text": "Hello"}, "ttl": "60s"},
        )
    ]


async def test_a_resend_goes_with_the_same_id_and_a_repeat_counts_as_accepted(
    scripted: Scripted, connector: RbmConnector
) -> None:
    scripted.answer("+14155551234", 200, {})
    scripted.answer("+14155551234", 409, {"error": {"code": 409, "status": "ALREADY_EXISTS"}})
    first = await connector.submit([SUBMISSION])
    assert await connector.was_submitted([ATTEMPT]) == {ATTEMPT: False}
    again = await connector.submit([SUBMISSION])
    assert first == again
    assert scripted.requests[0][2] == scripted.requests[1][2]


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [
        (
            404,
            {
                "error": {
                    "code": 404,
                    "message": "Requested entity was not found.",
                    "status": "NOT_FOUND",
                }
            },
            {},
            SubmitResult(
                ATTEMPT,
                REJECTED,
                error_code=61337,
                error_message="RBM 404 NOT_FOUND: Requested entity was not found.",
            ),
        ),
        (
            400,
            {"error": {"code": 400, "message": "bad card", "status": "INVALID_ARGUMENT"}},
            {},
            SubmitResult(
                ATTEMPT,
                REJECTED,
                error_code=63005,
                error_message="RBM 400 INVALID_ARGUMENT: bad card",
            ),
        ),
        (429, {}, {"Retry-After": "2"}, SubmitResult(ATTEMPT, THROTTLED, retry_after_ms=2000)),
        (503, None, {}, SubmitResult(ATTEMPT, THROTTLED, retry_after_ms=250)),
    ],
    ids=["404", "400", "429 Retry-After", "503"],
)
async def test_refusals(
    scripted: Scripted,
    connector: RbmConnector,
    status: int,
    body: Any,
    headers: dict[str, str],
    expected: SubmitResult,
) -> None:
    scripted.answer("+14155551234", status, body, **headers)
    assert await connector.submit([SUBMISSION]) == [expected]


async def test_throttling_backs_off_more_each_time_until_a_send_passes(
    scripted: Scripted, connector: RbmConnector
) -> None:
    for status in (503, 429, 500, 200, 503):
        scripted.answer("+14155551234", status, {})
    delays = [(await connector.submit([SUBMISSION]))[0].retry_after_ms for _ in range(5)]
    assert delays == [250, 500, 1000, 0, 250]


async def test_no_answer_is_throttled(scripted: Scripted, heard: Heard) -> None:
    config = rbm_config("http://127.0.0.1:9", scripted.url + "/token")
    rbm = RbmConnector("rcs", config)
    await rbm.start(heard.receipt, heard.message)
    try:
        [result] = await rbm.submit([SUBMISSION])
    finally:
        await rbm.close()
    assert (result.outcome, result.retry_after_ms) == (THROTTLED, 1000)


async def test_a_refused_token_is_refreshed_and_the_send_retried_once(
    scripted: Scripted, connector: RbmConnector
) -> None:
    scripted.refused_tokens.add("ya29.test-0")
    [result] = await connector.submit([SUBMISSION])
    assert result.outcome is ACCEPTED
    assert scripted.tokens_issued == ["ya29.test-0", "ya29.test-1"]
    assert len(scripted.requests) == 2
    scripted.refused_tokens.add("ya29.test-1")
    scripted.refused_tokens.add("ya29.test-2")
    [result] = await connector.submit([SUBMISSION])
    assert result.outcome is THROTTLED


async def test_content_that_cannot_be_sent_is_refused_without_a_request(
    scripted: Scripted, connector: RbmConnector
) -> None:
    bad = to("+14155551234", content={"media": [{"url": "a"}, {"url": "b"}]})
    sms = to("+14155551234", attempt="SM" + "cd" * 16, channel="SMS")
    results = await connector.submit([bad, sms])
    assert [(r.outcome, r.error_code) for r in results] == [(REJECTED, 63005), (REJECTED, 30008)]
    assert scripted.requests == []


async def test_a_batch_goes_concurrently_within_the_bound(scripted: Scripted, heard: Heard) -> None:
    scripted.delay = 0.05
    rbm = RbmConnector("rcs", rbm_config(scripted.url, scripted.url + "/token", concurrency=4))
    await rbm.start(heard.receipt, heard.message)
    batch = [to(f"+1415555{n:04d}", attempt=f"SM{n:032x}") for n in range(12)]
    try:
        results = await rbm.submit(batch)
    finally:
        await rbm.close()
    assert {r.outcome for r in results} == {ACCEPTED}
    assert {r.provider_message_id for r in results} == {message_id_for(s.attempt_id) for s in batch}
    assert scripted.most_in_flight == 4


async def test_throughput_paces_the_sends(scripted: Scripted, heard: Heard) -> None:
    rbm = RbmConnector("rcs", rbm_config(scripted.url, scripted.url + "/token", throughput=20))
    await rbm.start(heard.receipt, heard.message)
    loop = asyncio.get_running_loop()
    batch = [to(f"+1415555{n:04d}", attempt=f"SM{n:032x}") for n in range(6)]
    try:
        started = loop.time()
        await rbm.submit(batch)
        took = loop.time() - started
    finally:
        await rbm.close()
    assert took >= 5 / 20 - 0.02  # the first goes at once, the others 1/20 s apart


async def test_revoke_deletes_each_message_and_a_delivered_one_is_fine(
    scripted: Scripted, connector: RbmConnector, caplog: pytest.LogCaptureFixture
) -> None:
    scripted.answer("+14155550002", 404, {"error": {"code": 404, "status": "NOT_FOUND"}})
    scripted.answer("+14155550003", 500, {"error": {"code": 500, "status": "INTERNAL"}})
    batch = [to(f"+1415555000{n}", attempt=f"SM{n:032x}") for n in (1, 2, 3)]
    await connector.revoke(batch)
    assert sorted((method, path, query) for method, path, query, _ in scripted.requests) == [
        (
            "DELETE",
            f"/v1/phones/+1415555000{n}/agentMessages/{message_id_for(f'SM{n:032x}')}",
            {"agentId": "acme_agent"},
        )
        for n in (1, 2, 3)
    ]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [f"rbm rcs: revoke SM{3:032x}: RBM 500 INTERNAL"]


# --- the webhook ------------------------------------------------------------------------


def push(
    event: dict[str, Any], token: str = CLIENT_TOKEN, signature: str | None = None
) -> WebhookRequest:
    data = json.dumps(event).encode()
    body = json.dumps({"message": {"data": base64.b64encode(data).decode(), "messageId": "1"}})
    headers = {"x-goog-signature": signature if signature is not None else sign(token, data)}
    return WebhookRequest(
        "POST", "https://comms.example.com/webhooks/rcs", {}, headers, body.encode()
    )


def event(event_type: str, message_id: str = "m-1", event_id: str = "e-1") -> dict[str, Any]:
    return {
        "senderPhoneNumber": "+14155551234",
        "eventType": event_type,
        "eventId": event_id,
        "messageId": message_id,
        "sendTime": "2026-12-07T02:00:00Z",
        "agentId": "acme_agent",
    }


async def test_the_registration_handshake(connector: RbmConnector) -> None:
    def handshake(token: str) -> WebhookRequest:
        body = json.dumps({"clientToken": token, "secret": "1234567890"}).encode()
        return WebhookRequest("POST", "https://x/webhooks/rcs", {}, {}, body)

    answer = await connector.webhook(handshake(CLIENT_TOKEN))
    assert (answer.status, answer.body) == (200, b"1234567890")
    refused = await connector.webhook(handshake("someone-else"))
    assert refused.status == 403 and b"1234567890" not in refused.body


async def test_delivered_and_read_events_are_receipts(
    connector: RbmConnector, heard: Heard
) -> None:
    for kind, event_id in (("DELIVERED", "e-1"), ("READ", "e-2"), ("IS_TYPING", "e-3")):
        answer = await connector.webhook(push(event(kind, event_id=event_id)))
        assert answer.status == 200
    assert heard.receipts == [
        Receipt("DELIVERED", provider_message_id="m-1"),
        Receipt("READ", provider_message_id="m-1"),
    ]


async def test_an_event_on_a_message_sent_here_names_its_attempt(
    connector: RbmConnector, heard: Heard
) -> None:
    """So it moves the attempt even when it overtakes the send's answer (RBM reports
    DELIVERED that fast), instead of waiting as an early receipt."""
    await connector.submit([SUBMISSION])
    message_id = message_id_for(ATTEMPT)
    answer = await connector.webhook(push(event("DELIVERED", message_id)))
    assert answer.status == 200
    assert heard.receipts == [
        Receipt("DELIVERED", attempt_id=ATTEMPT, provider_message_id=message_id)
    ]


async def test_a_repeated_event_is_acknowledged_and_heard_once(
    connector: RbmConnector, heard: Heard
) -> None:
    answers = [await connector.webhook(push(event("DELIVERED"))) for _ in range(3)]
    assert [a.status for a in answers] == [200] * 3
    assert heard.receipts == [Receipt("DELIVERED", provider_message_id="m-1")]


@pytest.mark.parametrize(
    "signature",
    ["", "bm90IGl0", sign("another-token", b"{}")],
    ids=["none", "garbage", "other key"],
)
async def test_an_unsigned_post_is_refused_and_nothing_heard(
    connector: RbmConnector, heard: Heard, signature: str
) -> None:
    answer = await connector.webhook(push(event("DELIVERED"), signature=signature))
    assert answer.status == 401
    assert heard.receipts == []


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"message": {}}', b'{"message": {"data": "%%%"}}'],
)
async def test_a_malformed_post_is_a_400(connector: RbmConnector, body: bytes) -> None:
    answer = await connector.webhook(WebhookRequest("POST", "https://x/w", {}, {}, body))
    assert answer.status == 400


async def test_signed_data_that_is_not_an_event_is_a_400(connector: RbmConnector) -> None:
    data = b"not json"
    body = json.dumps({"message": {"data": base64.b64encode(data).decode()}}).encode()
    headers = {"x-goog-signature": sign(CLIENT_TOKEN, data)}
    answer = await connector.webhook(WebhookRequest("POST", "https://x/w", {}, headers, body))
    assert answer.status == 400


async def test_user_messages_are_inbound_once(connector: RbmConnector, heard: Heard) -> None:
    text = {
        "senderPhoneNumber": "+14155551234",
        "messageId": "u-1",
        "text": "STOP",
        "agentId": "acme_agent",
    }
    tapped = {
        "senderPhoneNumber": "+14155551234",
        "messageId": "u-2",
        "suggestionResponse": {"postbackData": "yes", "text": "Yes", "type": "REPLY"},
    }
    located = {"senderPhoneNumber": "+14155551234", "messageId": "u-3", "location": {"latitude": 1}}
    for message in (text, tapped, text, located):
        assert (await connector.webhook(push(message))).status == 200
    assert heard.inbound == [
        Inbound("rcs", "RCS", "+14155551234", "acme_agent", "STOP", provider_message_id="u-1"),
        Inbound("rcs", "RCS", "+14155551234", "acme_agent", "Yes", provider_message_id="u-2"),
    ]


async def test_the_answer_waits_until_the_event_is_stored(
    connector: RbmConnector, heard: Heard
) -> None:
    heard.store = asyncio.get_running_loop().create_future()
    answering = asyncio.create_task(connector.webhook(push(event("DELIVERED"))))
    await asyncio.sleep(0.05)
    assert heard.receipts and not answering.done()
    heard.store.set_result(None)
    assert (await answering).status == 200


async def test_an_event_not_stored_is_not_acknowledged_and_heard_again(
    connector: RbmConnector, heard: Heard
) -> None:
    heard.store = asyncio.get_running_loop().create_future()
    heard.store.set_exception(OSError("disk full"))
    assert (await connector.webhook(push(event("DELIVERED")))).status == 503
    heard.store = None
    assert (await connector.webhook(push(event("DELIVERED")))).status == 200
    assert len(heard.receipts) == 2


async def test_only_posts(connector: RbmConnector) -> None:
    answer = await connector.webhook(WebhookRequest("GET", "https://x/w", {}, {}, b""))
    assert answer.status == 405


async def test_a_repeat_while_the_first_is_being_stored_waits_for_it(
    connector: RbmConnector, heard: Heard
) -> None:
    heard.store = asyncio.get_running_loop().create_future()
    first = asyncio.create_task(connector.webhook(push(event("DELIVERED"))))
    await asyncio.sleep(0.02)
    repeat = asyncio.create_task(connector.webhook(push(event("DELIVERED"))))
    await asyncio.sleep(0.02)
    assert not first.done() and not repeat.done()
    heard.store.set_result(None)
    assert [(await first).status, (await repeat).status] == [200, 200]
    assert heard.receipts == [Receipt("DELIVERED", provider_message_id="m-1")]
