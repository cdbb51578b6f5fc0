"""The WhatsApp Cloud API peer's own tests, with httpx and a plain webhook receiver (no
opencomms code): it refuses what Meta documents as refused, answers scripted errors as
Meta does, and posts statuses signed by the documented rule, again until answered 200."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.support.polling import wait_until
from tests.support.whatsapp_peer import WhatsAppPeer

TOKEN = "EAAG-test-token"
SECRET = "app-secret-for-tests"
VERIFY = "verify-me"


class Receiver:
    """An app's webhook route, reduced to what the tests look at: every request's raw
    body and headers; answers from `answers` first (then 200); the GET handshake
    answered with the challenge when the verify token matches."""

    def __init__(self) -> None:
        self.posts: list[tuple[bytes, dict[str, str], float]] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append((body, dict(self.headers), time.monotonic()))
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                query = parse_qs(urlparse(self.path).query)
                ok = query.get("hub.mode") == ["subscribe"] and query.get("hub.verify_token") == [
                    VERIFY
                ]
                answer = query["hub.challenge"][0].encode() if ok else b"no"
                self.send_response(200 if ok else 403)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/whatsapp"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body, _, _ in self.posts]

    def statuses(self) -> list[dict[str, Any]]:
        return [
            status
            for payload in self.payloads()
            for entry in payload["entry"]
            for change in entry["changes"]
            for status in change["value"].get("statuses", [])
        ]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


@pytest.fixture
def peer(receiver: Receiver) -> Iterator[WhatsAppPeer]:
    with WhatsAppPeer(
        access_token=TOKEN,
        app_secret=SECRET,
        verify_token=VERIFY,
        webhook_url=receiver.url,
        retry_delays_s=(0.05, 0.05, 0.05),
    ) as peer:
        yield peer


@pytest.fixture
async def api(peer: WhatsAppPeer) -> Any:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=peer.base_url, headers=headers) as client:
        yield client


def text(to: str = "+15551230001", body: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
            "type": "text", "text": {"body": body}, **extra}  # fmt: skip


def send_path(peer: WhatsAppPeer) -> str:
    return f"/{peer.phone_number_id}/messages"


def assert_graph_error(response: httpx.Response, status: int, code: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert error["type"] == "OAuthException"
    assert error["message"] and error["fbtrace_id"]
    if code != 190:
        assert error["error_data"]["messaging_product"] == "whatsapp"
        assert error["error_data"]["details"]
    return error


# -- refusals ------------------------------------------------------------------------------


async def test_a_send_without_a_token_or_with_a_wrong_one_is_refused_with_190(
    peer: WhatsAppPeer,
) -> None:
    async with httpx.AsyncClient(base_url=peer.base_url) as client:
        missing = await client.post(send_path(peer), json=text())
        wrong = await client.post(
            send_path(peer), json=text(), headers={"Authorization": "Bearer nope"}
        )
    assert_graph_error(missing, 401, 190)
    assert_graph_error(wrong, 401, 190)
    assert peer.accepted == []


async def test_a_send_to_another_phone_number_id_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.post("/999999999/messages", json=text())
    error = assert_graph_error(response, 400, 100)
    assert "999999999" in error["error_data"]["details"]


BAD_BODIES: list[tuple[str, Any]] = [
    ("no messaging_product", {k: v for k, v in text().items() if k != "messaging_product"}),
    ("another product", text(messaging_product="sms")),
    ("no recipient", {k: v for k, v in text().items() if k != "to"}),
    ("recipient not a number", text(to="alice")),
    ("unknown type", {**text(), "type": "fax", "fax": {"body": "x"}}),
    ("type without its object", {**text(), "type": "image"}),
    ("unknown recipient_type", text(recipient_type="broadcast")),
    ("text without body", {**text(), "text": {"preview_url": False}}),
    ("empty body", text(body="")),
    ("text over 4096 characters", text(body="x" * 4097)),
    ("unknown key", text(priority="high")),
    ("callback data over 512", text(biz_opaque_callback_data="a" * 513)),
    ("callback data not a string", text(biz_opaque_callback_data=12)),
    ("image with link and id", {**text(), "type": "image",
                                "image": {"link": "https://x.test/a.png", "id": "1"}}),
    ("image with neither", {**text(), "type": "image", "image": {"caption": "hi"}}),
    ("image link not http", {**text(), "type": "image", "image": {"link": "ftp://x/a.png"}}),
    ("caption over 1024", {**text(), "type": "image",
                           "image": {"link": "https://x.test/a.png", "caption": "c" * 1025}}),
    ("audio with a caption", {**text(), "type": "audio",
                              "audio": {"link": "https://x.test/a.ogg", "caption": "c"}}),
    ("template without language", {**text(), "type": "template",
                                   "template": {"name": "order_update"}}),
    ("template language without code", {**text(), "type": "template",
                                        "template": {"name": "t", "language": {}}}),
    ("template without name", {**text(), "type": "template",
                               "template": {"language": {"code": "en_US"}}}),
    ("template component of unknown type", {**text(), "type": "template", "template": {
        "name": "t", "language": {"code": "en"}, "components": [{"type": "sidebar"}]}}),
    ("template text parameter without text", {**text(), "type": "template", "template": {
        "name": "t", "language": {"code": "en"},
        "components": [{"type": "body", "parameters": [{"type": "text"}]}]}}),
    ("button without sub_type", {**text(), "type": "template", "template": {
        "name": "t", "language": {"code": "en"},
        "components": [{"type": "button", "index": "0", "parameters": []}]}}),
    ("not an object", ["whatsapp"]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "body"), BAD_BODIES, ids=[case for case, _ in BAD_BODIES])
async def test_a_malformed_send_is_refused_with_100(
    api: httpx.AsyncClient, peer: WhatsAppPeer, case: str, body: Any
) -> None:
    response = await api.post(send_path(peer), json=body)
    assert_graph_error(response, 400, 100)
    assert peer.accepted == []
    assert peer.sends[-1].status_code == 400


async def test_a_body_that_is_not_json_is_refused(
    api: httpx.AsyncClient, peer: WhatsAppPeer
) -> None:
    response = await api.post(send_path(peer), content=b"to=1555&text=hi")
    assert_graph_error(response, 400, 100)


async def test_the_limits_themselves_are_accepted(
    api: httpx.AsyncClient, peer: WhatsAppPeer
) -> None:
    response = await api.post(
        send_path(peer), json=text(body="x" * 4096, biz_opaque_callback_data="a" * 512)
    )
    assert response.status_code == 200, response.text


# -- accepted sends ------------------------------------------------------------------------


async def test_a_text_is_accepted_with_a_wamid_and_recorded(
    api: httpx.AsyncClient, peer: WhatsAppPeer
) -> None:
    response = await api.post(
        send_path(peer), json=text(to="+1 555 123 0001", biz_opaque_callback_data="attempt-1")
    )
    assert response.status_code == 200
    body = response.json()
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": "+1 555 123 0001", "wa_id": "15551230001"}]
    wamid = body["messages"][0]["id"]
    assert wamid.startswith("wamid.")
    [accepted] = peer.accepted
    assert (accepted.wamid, accepted.wa_id, accepted.body) == (wamid, "15551230001", "hello")
    assert accepted.biz_opaque_callback_data == "attempt-1"
    assert peer.accepted_count("attempt-1") == 1


VALID_BODIES: list[tuple[str, dict[str, Any]]] = [
    ("image by link", {"type": "image",
                       "image": {"link": "https://x.test/a.png", "caption": "look"}}),
    ("document by id", {"type": "document", "document": {"id": "1234", "filename": "a.pdf"}}),
    ("video", {"type": "video", "video": {"link": "https://x.test/a.mp4"}}),
    ("audio", {"type": "audio", "audio": {"id": "987"}}),
    ("template with parameters", {"type": "template", "template": {
        "name": "order_update", "language": {"code": "en_US", "policy": "deterministic"},
        "components": [
            {"type": "header", "parameters": [
                {"type": "image", "image": {"link": "https://x.test/h.png"}}]},
            {"type": "body", "parameters": [{"type": "text", "text": "Ada"},
                                            {"type": "text", "text": "42"}]},
            {"type": "button", "sub_type": "quick_reply", "index": "0",
             "parameters": [{"type": "payload", "payload": "STOP"}]},
        ]}}),
    ("template without components", {"type": "template",
                                     "template": {"name": "hello_world",
                                                  "language": {"code": "en_US"}}}),
]  # fmt: skip


@pytest.mark.parametrize(("case", "fields"), VALID_BODIES, ids=[c for c, _ in VALID_BODIES])
async def test_valid_media_and_template_sends_are_accepted(
    api: httpx.AsyncClient, peer: WhatsAppPeer, case: str, fields: dict[str, Any]
) -> None:
    body = {"messaging_product": "whatsapp", "to": "15551230002", **fields}
    response = await api.post(send_path(peer), json=body)
    assert response.status_code == 200, response.text
    assert peer.accepted[0].type == fields["type"]
    [message] = response.json()["messages"]
    if fields["type"] == "template":
        assert message["message_status"] == "accepted"
    else:
        assert set(message) == {"id"}


async def test_known_templates_are_checked_by_name_language_and_parameter_count(
    api: httpx.AsyncClient, peer: WhatsAppPeer
) -> None:
    peer.add_template("order_update", "en_US", body_params=1)

    def template(name: str, language: str, params: int) -> dict[str, Any]:
        parameters = [{"type": "text", "text": str(i)} for i in range(params)]
        return {"messaging_product": "whatsapp", "to": "15551230003", "type": "template",
                "template": {"name": name, "language": {"code": language},
                             "components": [{"type": "body",
                                             "parameters": parameters}]}}  # fmt: skip

    assert_graph_error(
        await api.post(send_path(peer), json=template("nope", "en_US", 1)), 400, 132001
    )
    assert_graph_error(
        await api.post(send_path(peer), json=template("order_update", "fr", 1)), 400, 132001
    )
    assert_graph_error(
        await api.post(send_path(peer), json=template("order_update", "en_US", 2)), 400, 132000
    )
    assert (
        await api.post(send_path(peer), json=template("order_update", "en_US", 1))
    ).status_code == 200


# -- statuses ------------------------------------------------------------------------------


def verify(secret: str, body: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


async def test_an_accepted_message_gets_sent_then_delivered_webhooks_signed_with_the_app_secret(
    api: httpx.AsyncClient, peer: WhatsAppPeer, receiver: Receiver
) -> None:
    response = await api.post(send_path(peer), json=text(biz_opaque_callback_data="attempt-7"))
    wamid = response.json()["messages"][0]["id"]
    await peer.settled()
    assert len(receiver.posts) == 2
    for body, headers, _ in receiver.posts:
        assert verify(SECRET, body, headers["X-Hub-Signature-256"])
        assert headers["Content-Type"] == "application/json"
    payload = receiver.payloads()[0]
    assert payload["object"] == "whatsapp_business_account"
    [entry] = payload["entry"]
    assert entry["id"] == peer.waba_id
    [change] = entry["changes"]
    assert change["field"] == "messages"
    assert change["value"]["metadata"] == {
        "display_phone_number": peer.display_phone_number,
        "phone_number_id": peer.phone_number_id,
    }
    sent, delivered = receiver.statuses()
    assert [sent["status"], delivered["status"]] == ["sent", "delivered"]
    for status in (sent, delivered):
        assert status["id"] == wamid
        assert status["recipient_id"] == "15551230001"
        assert status["biz_opaque_callback_data"] == "attempt-7"
        assert status["timestamp"].isdigit()
        assert status["pricing"]["category"] == "service"
        assert status["conversation"]["origin"]["type"] == "service"


async def test_a_signature_is_over_the_raw_escaped_bytes(
    api: httpx.AsyncClient, peer: WhatsAppPeer, receiver: Receiver
) -> None:
    peer.push_user_message("+15551230009", "Grüße, 你好")
    await peer.settled()
    [(body, headers, _)] = receiver.posts
    assert b"\\u00fc" in body  # escaped as Meta escapes, lowercase hex
    assert verify(SECRET, body, headers["X-Hub-Signature-256"])
    reencoded = json.dumps(json.loads(body), ensure_ascii=False).encode()
    assert not verify(SECRET, reencoded, headers["X-Hub-Signature-256"])
    assert not verify("another-secret", body, headers["X-Hub-Signature-256"])


async def test_undeliverable_arrives_as_a_failed_status_not_an_http_error(
    api: httpx.AsyncClient, peer: WhatsAppPeer, receiver: Receiver
) -> None:
    peer.fail("15551230001", 131026)
    response = await api.post(send_path(peer), json=text(biz_opaque_callback_data="a-1"))
    assert response.status_code == 200
    await peer.settled()
    [failed] = receiver.statuses()
    assert failed["status"] == "failed"
    assert failed["biz_opaque_callback_data"] == "a-1"
    [error] = failed["errors"]
    assert error["code"] == 131026
    assert error["title"] and error["message"] and error["error_data"]["details"]
    assert "pricing" not in failed


async def test_outside_the_24_hour_window_text_fails_with_131047_but_a_template_goes(
    api: httpx.AsyncClient, peer: WhatsAppPeer, receiver: Receiver
) -> None:
    peer.close_window("+15551230001")
    await api.post(send_path(peer), json=text())
    template = {"messaging_product": "whatsapp", "to": "15551230001", "type": "template",
                "template": {"name": "hello_world", "language": {"code": "en_US"}}}  # fmt: skip
    await api.post(send_path(peer), json=template)
    await peer.settled()
    by_wamid: dict[str, list[str]] = {}
    for status in receiver.statuses():
        by_wamid.setdefault(status["id"], []).append(status["status"])
    text_wamid, template_wamid = (a.wamid for a in peer.accepted)
    assert by_wamid[text_wamid] == ["failed"]
    [failed] = [s for s in receiver.statuses() if s["id"] == text_wamid]
    assert failed["errors"][0]["code"] == 131047
    assert by_wamid[template_wamid] == ["sent", "delivered"]


async def test_a_user_message_reopens_the_window(
    api: httpx.AsyncClient, peer: WhatsAppPeer, receiver: Receiver
) -> None:
    peer.user_wrote("15551230001", at=time.time() - 25 * 3600)
    await api.post(send_path(peer), json=text())
    peer.push_user_message("15551230001", "hi again")
    await peer.settled()
    await api.post(send_path(peer), json=text())
    await peer.settled()
    first, second = (a.wamid for a in peer.accepted)
    outcome = {(s["id"], s["status"]) for s in receiver.statuses()}
    assert (first, "failed") in outcome
    assert (second, "delivered") in outcome


@pytest.mark.parametrize("code", [130429, 131056])
async def test_scripted_rate_limits_are_synchronous_for_the_first_tries(
    api: httpx.AsyncClient, peer: WhatsAppPeer, code: int
) -> None:
    peer.refuse("+15551230001", code, times=2)
    first = await api.post(send_path(peer), json=text(biz_opaque_callback_data="a-1"))
    second = await api.post(send_path(peer), json=text(biz_opaque_callback_data="a-1"))
    third = await api.post(send_path(peer), json=text(biz_opaque_callback_data="a-1"))
    assert_graph_error(first, 400, code)
    assert_graph_error(second, 400, code)
    assert third.status_code == 200
    assert (peer.posted_count("a-1"), peer.accepted_count("a-1")) == (3, 1)


async def test_beyond_the_throughput_the_peer_answers_130429(
    api: httpx.AsyncClient, peer: WhatsAppPeer
) -> None:
    peer.throughput_per_s = 5
    started = time.monotonic()
    responses = await asyncio.gather(
        *(api.post(send_path(peer), json=text(to=f"1555000{i:04d}")) for i in range(20))
    )
    elapsed = time.monotonic() - started
    codes = [r.status_code for r in responses]
    assert 5 <= codes.count(200) <= 5 + 5 * elapsed + 1, (codes, elapsed)
    for refused in (r for r in responses if r.status_code != 200):
        assert_graph_error(refused, 400, 130429)
    assert len(peer.accepted) == codes.count(200)


async def test_the_pair_rate_limit_when_configured(
    api: httpx.AsyncClient, peer: WhatsAppPeer
) -> None:
    peer.pair_interval_s = 6
    assert (await api.post(send_path(peer), json=text())).status_code == 200
    assert_graph_error(await api.post(send_path(peer), json=text()), 400, 131056)
    assert (await api.post(send_path(peer), json=text(to="15551230002"))).status_code == 200


@pytest.mark.parametrize(
    "steps",
    [("sent",), ("sent", "read"), ("read", "delivered", "sent"), ("sent", "sent", "delivered")],
    ids=["never delivered", "read without delivered", "out of order", "duplicated"],
)
async def test_scripted_status_sequences(
    api: httpx.AsyncClient, peer: WhatsAppPeer, receiver: Receiver, steps: tuple[str, ...]
) -> None:
    peer.statuses("15551230001", *steps)
    await api.post(send_path(peer), json=text())
    await peer.settled()
    assert tuple(s["status"] for s in receiver.statuses()) == steps


async def test_a_late_status_comes_after_its_delay(
    api: httpx.AsyncClient, peer: WhatsAppPeer, receiver: Receiver
) -> None:
    peer.statuses("15551230001", "sent", ("delivered", 0.5))
    await api.post(send_path(peer), json=text())
    await peer.settled()
    (_, _, sent_at), (_, _, delivered_at) = receiver.posts
    assert delivered_at - sent_at >= 0.5


async def test_a_status_can_arrive_before_the_send_is_answered(
    api: httpx.AsyncClient, peer: WhatsAppPeer, receiver: Receiver
) -> None:
    peer.statuses("15551230001", "sent", "delivered", before_answer=True)
    response = await api.post(send_path(peer), json=text())
    answered_at = time.monotonic()
    assert response.status_code == 200
    await peer.settled()
    (_, _, sent_at), _ = receiver.posts
    assert sent_at < answered_at  # posted and answered before the send's answer came
    sent, delivered = receiver.statuses()
    assert (sent["status"], delivered["status"]) == ("sent", "delivered")
    assert sent["id"] == response.json()["messages"][0]["id"]


# -- webhook delivery ----------------------------------------------------------------------


async def test_a_receiver_answering_500_gets_the_same_payload_again(
    api: httpx.AsyncClient, peer: WhatsAppPeer, receiver: Receiver
) -> None:
    peer.statuses("15551230001", "sent")
    receiver.answers = [500, 503]
    await api.post(send_path(peer), json=text())
    await peer.settled()
    bodies = [body for body, _, _ in receiver.posts]
    assert len(bodies) == 3 and len(set(bodies)) == 1
    [delivery] = peer.deliveries
    assert [a.status_code for a in delivery.attempts] == [500, 503, 200]
    assert delivery.delivered


async def test_anything_but_200_is_retried_until_the_schedule_runs_out(
    api: httpx.AsyncClient, peer: WhatsAppPeer, receiver: Receiver
) -> None:
    peer.statuses("15551230001", "sent", "delivered")
    receiver.answers = [204, 500, 500, 500]
    await api.post(send_path(peer), json=text())
    await peer.settled()
    first, second = peer.deliveries
    assert first.abandoned and len(first.attempts) == 4
    assert second.delivered  # the next status is still posted


async def test_handshake_echoes_the_challenge_only_for_the_verify_token(
    peer: WhatsAppPeer,
) -> None:
    good = await peer.handshake_async(challenge="1158201444")
    assert (good.status_code, good.text) == (200, "1158201444")
    bad = peer.handshake(verify_token="wrong", challenge="1158201444")
    assert bad.status_code == 403


async def test_user_message_batched_statuses_and_forged_payloads(
    api: httpx.AsyncClient, peer: WhatsAppPeer, receiver: Receiver
) -> None:
    peer.statuses("15551230001")
    peer.statuses("15551230002")
    wamids = []
    for to in ("15551230001", "15551230002"):
        wamids.append(
            (await api.post(send_path(peer), json=text(to=to))).json()["messages"][0]["id"]
        )
    peer.push_statuses((wamids[0], "read"), (wamids[1], "failed", 131026))
    peer.push_user_message("+15551230001", "STOP", name="Ada")
    peer.push_payload({"object": "whatsapp_business_account", "entry": []}, secret="forged")
    await peer.settled()
    by_kind: dict[str, tuple[dict[str, Any], bytes, str]] = {}
    for (body, headers, _), payload in zip(receiver.posts, receiver.payloads(), strict=True):
        value = payload["entry"][0]["changes"][0]["value"] if payload["entry"] else {}
        kind = "statuses" if "statuses" in value else "messages" if value else "forged"
        by_kind[kind] = (payload, body, headers["X-Hub-Signature-256"])
    statuses = by_kind["statuses"][0]["entry"][0]["changes"][0]["value"]["statuses"]
    assert [(s["id"], s["status"]) for s in statuses] == [
        (wamids[0], "read"),
        (wamids[1], "failed"),
    ]
    value = by_kind["messages"][0]["entry"][0]["changes"][0]["value"]
    assert value["contacts"] == [{"profile": {"name": "Ada"}, "wa_id": "15551230001"}]
    [message] = value["messages"]
    assert (message["from"], message["type"], message["text"]) == (
        "15551230001",
        "text",
        {"body": "STOP"},
    )
    assert message["id"].startswith("wamid.") and message["timestamp"].isdigit()
    forged, body, signature = by_kind["forged"]
    assert forged == {"object": "whatsapp_business_account", "entry": []}
    assert not verify(SECRET, body, signature)
    assert verify("forged", body, signature)


async def test_many_messages_are_accepted_quickly_with_a_raised_throughput(
    api: httpx.AsyncClient, peer: WhatsAppPeer, receiver: Receiver
) -> None:
    peer.throughput_per_s = 100_000
    peer.statuses("15559990000")  # the bulk goes elsewhere; only its webhooks are counted

    slots = asyncio.Semaphore(32)

    async def one(i: int) -> int:
        body = text(to=f"1555{i:07d}", biz_opaque_callback_data=f"attempt-{i}")
        async with slots:
            return (await api.post(send_path(peer), json=body)).status_code

    started = time.monotonic()
    codes = await asyncio.gather(*(one(i) for i in range(500)))
    assert set(codes) == {200}
    assert time.monotonic() - started < 20
    await peer.settled(60)
    assert len(receiver.posts) == 1000
    assert peer.accepted_twice() == {}
    wait_until(lambda: all(d.delivered for d in peer.deliveries))


async def test_statuses_can_be_batched_several_to_a_post(receiver: Receiver) -> None:
    with WhatsAppPeer(
        access_token=TOKEN, app_secret=SECRET, webhook_url=receiver.url, statuses_per_post=50
    ) as peer:
        async with httpx.AsyncClient(
            base_url=peer.base_url, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as api:
            await asyncio.gather(
                *(api.post(send_path(peer), json=text(to=f"1555000{i:04d}")) for i in range(40))
            )
            await peer.settled()
    assert len(receiver.statuses()) == 80
    assert len(receiver.posts) < 40  # sent statuses share posts, then delivered ones
    for body, headers, _ in receiver.posts:
        assert verify(SECRET, body, headers["X-Hub-Signature-256"])
    for accepted in peer.accepted:
        mine = [s["status"] for s in receiver.statuses() if s["id"] == accepted.wamid]
        assert mine == ["sent", "delivered"]


async def test_failed_statuses_may_be_told_to_leave_the_callback_data_out(
    receiver: Receiver,
) -> None:
    with WhatsAppPeer(
        access_token=TOKEN, webhook_url=receiver.url, callback_data_on_failed=False
    ) as peer:
        peer.fail("15551230001", 131026, times=1)
        async with httpx.AsyncClient(
            base_url=peer.base_url, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as api:
            await api.post(send_path(peer), json=text(biz_opaque_callback_data="a-1"))
            await api.post(send_path(peer), json=text(biz_opaque_callback_data="a-2"))
            await peer.settled()
    failed, *others = sorted(receiver.statuses(), key=lambda s: s["status"] != "failed")
    assert failed["status"] == "failed" and "biz_opaque_callback_data" not in failed
    assert {s["biz_opaque_callback_data"] for s in others} == {"a-2"}  # times=1: then normal


async def test_a_slow_answer_leaves_the_message_sent_though_the_client_gave_up(
    api: httpx.AsyncClient, peer: WhatsAppPeer, receiver: Receiver
) -> None:
    peer.slow("15551230001", 2.0)
    with pytest.raises(httpx.ReadTimeout):
        await api.post(send_path(peer), json=text(biz_opaque_callback_data="a-1"), timeout=0.3)
    assert peer.accepted_count("a-1") == 1
    await peer.settled()
    assert {s["status"] for s in receiver.statuses()} == {"sent", "delivered"}
    answered = await api.post(send_path(peer), json=text(biz_opaque_callback_data="a-1"))
    assert answered.status_code == 200  # only the next one was slow
    assert peer.accepted_twice() == {"a-1": 2}
    assert peer.posted_by_body["hello"] == 2


async def test_a_webhook_url_that_is_down_is_retried_until_it_comes_back(
    api: httpx.AsyncClient, peer: WhatsAppPeer, receiver: Receiver
) -> None:
    peer.retry_delays_s = (0.1,) * 30
    peer.statuses("15551230001", "sent")
    peer.webhook_url = "http://127.0.0.1:9/webhooks/whatsapp"  # discard port: refused
    await api.post(send_path(peer), json=text())
    wait_until(lambda: len(peer.deliveries[0].attempts) >= 2, timeout=10)
    peer.webhook_url = receiver.url
    await peer.settled()
    [delivery] = peer.deliveries
    assert delivery.delivered
    assert delivery.attempts[0].status_code is None and delivery.attempts[0].error
    assert len(receiver.posts) == 1


async def test_an_unknown_error_is_a_500(api: httpx.AsyncClient, peer: WhatsAppPeer) -> None:
    peer.refuse("15551230001", 131000)
    assert_graph_error(await api.post(send_path(peer), json=text()), 500, 131000)
    assert peer.accepted == []


async def test_other_paths_and_methods_get_graph_errors(
    api: httpx.AsyncClient, peer: WhatsAppPeer
) -> None:
    assert_graph_error(await api.get(send_path(peer)), 400, 100)
    assert_graph_error(await api.post(f"/{peer.phone_number_id}/media", json={}), 400, 100)
    assert_graph_error(await api.post("/v21.0/nothing/here/at/all", json=text()), 400, 100)


async def test_reset_forgets_records_and_scripts(
    api: httpx.AsyncClient, peer: WhatsAppPeer, receiver: Receiver
) -> None:
    peer.refuse("15551230001", 130429, times=5)
    peer.add_template("only_this", "en")
    assert (await api.post(send_path(peer), json=text())).status_code == 400
    peer.reset()
    assert (peer.sends, peer.accepted, peer.posted_by_body) == ([], [], {})
    assert (
        await api.post(send_path(peer), json=text(biz_opaque_callback_data="x"))
    ).status_code == 200
    assert peer.accepted_count("x") == 1
