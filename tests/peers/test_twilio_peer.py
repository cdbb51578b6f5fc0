"""The Twilio Messaging peer (tests/support/twilio_peer) against what Twilio documents:
Twilio's own Python library sends through it, its refusals have Twilio's error shape,
and its status callbacks carry a signature that twilio-python's RequestValidator
accepts, in the scripted order and delays."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.support.twilio_peer import Step, TwilioPeer

ACCOUNT = "AC" + "5e" * 16
TOKEN = "peer-test-token-81c"
KEY, KEY_SECRET = "SK" + "7b" * 16, "key-secret-2d4"
SERVICE = "MG" + "3c" * 16
FROM, TO = "+14155550100", "+14155551234"


class Hook:
    """A callback receiver on 127.0.0.1: records each request and answers 200."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], list[tuple[str, str]]]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                form = parse_qsl(body.decode(), keep_blank_values=True)
                hook.requests.append((self.path, dict(self.headers.items()), form))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/up"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def peer() -> Iterator[TwilioPeer]:
    with TwilioPeer(
        account_sid=ACCOUNT,
        auth_token=TOKEN,
        api_keys={KEY: KEY_SECRET},
        messaging_service_sids=(SERVICE,),
    ) as started:
        yield started


@pytest.fixture
def hook() -> Iterator[Hook]:
    receiver = Hook()
    yield receiver
    receiver.close()


def client(peer: TwilioPeer, user: str = ACCOUNT, password: str = TOKEN) -> Client:
    """Twilio's own library, pointed at the peer."""
    sdk = Client(user, password, account_sid=ACCOUNT)
    sdk.api.base_url = peer.base_url
    return sdk


def post(peer: TwilioPeer, form: dict[str, Any], auth: tuple[str, str] = (ACCOUNT, TOKEN),
         account: str = ACCOUNT) -> httpx.Response:  # fmt: skip
    url = f"{peer.base_url}/2010-04-01/Accounts/{account}/Messages.json"
    return httpx.post(url, data=form, auth=auth, timeout=10)


def test_twilios_library_sends_an_sms_through_the_peer(peer: TwilioPeer) -> None:
    message = client(peer).messages.create(to=TO, from_=FROM, body="Hello")
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert (message.status, message.to, message.from_, message.body) == (
        "queued",
        TO,
        FROM,
        "Hello",
    )
    assert message.direction == "outbound-api"
    (accepted,) = peer.accepted
    assert (accepted.sid, accepted.outgoing.body) == (message.sid, "Hello")


def test_an_api_key_authenticates_and_media_makes_an_mms(peer: TwilioPeer) -> None:
    sdk = client(peer, KEY, KEY_SECRET)
    urls = ["https://example.com/a.jpg", "https://example.com/b.png"]
    message = sdk.messages.create(to=TO, messaging_service_sid=SERVICE, media_url=urls)
    assert message.sid.startswith("MM")
    assert (message.status, message.num_media, message.messaging_service_sid) == (
        "accepted",
        "2",
        SERVICE,
    )
    assert peer.accepted[0].outgoing.media == urls


def test_wrong_credentials_are_20003_in_twilios_error_shape(peer: TwilioPeer) -> None:
    answer = post(peer, {"To": TO, "From": FROM, "Body": "x"}, auth=(ACCOUNT, "guess"))
    assert answer.status_code == 401
    assert answer.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }
    with pytest.raises(TwilioRestException) as raised:
        client(peer, KEY, "not-the-secret").messages.create(to=TO, from_=FROM, body="x")
    assert (raised.value.status, raised.value.code) == (401, 20003)
    assert peer.accepted == []


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"From": FROM, "Body": "x"}, 21604),
        ({"To": TO, "Body": "x"}, 21603),
        ({"To": TO, "From": FROM}, 21602),
        ({"To": "555-1234", "From": FROM, "Body": "x"}, 21211),
        ({"To": TO, "From": "+1", "Body": "x"}, 21212),
        ({"To": f"whatsapp:{TO}", "From": FROM, "Body": "x"}, 21910),
        ({"To": TO, "From": FROM, "Body": "x" * 1601}, 21617),
        ({"To": TO, "From": FROM, "MediaUrl": ["https://e.x/i.png"] * 11}, 21623),
        ({"To": TO, "From": FROM, "MediaUrl": "ftp://e.x/i.png"}, 21620),
        ({"To": TO, "From": FROM, "Body": "x", "StatusCallback": "http://my_host/cb"}, 21609),
        ({"To": TO, "MessagingServiceSid": "MG" + "00" * 16, "Body": "x"}, 21701),
        ({"To": TO, "From": FROM, "Body": "x", "ValidityPeriod": "36001"}, 60200),
    ],
)
def test_what_twilio_refuses_is_refused_with_its_code(
    peer: TwilioPeer, form: dict[str, Any], code: int
) -> None:
    answer = post(peer, form)
    assert (answer.status_code, answer.json()["code"], answer.json()["status"]) == (400, code, 400)
    assert answer.json()["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert peer.accepted == []


def test_an_alphanumeric_sender_and_a_validity_period_are_taken(peer: TwilioPeer) -> None:
    answer = post(peer, {"To": TO, "From": "ACME", "Body": "x", "ValidityPeriod": "600"})
    assert answer.status_code == 201
    assert peer.accepted[0].outgoing.validity_period_s == 600


def test_another_accounts_path_is_a_404(peer: TwilioPeer) -> None:
    answer = post(peer, {"To": TO, "From": FROM, "Body": "x"}, account="AC" + "00" * 16)
    assert (answer.status_code, answer.json()["code"]) == (404, 20404)


def test_scripted_refusals_come_first_then_the_send_is_taken(peer: TwilioPeer) -> None:
    peer.refuse(TO, 20429, retry_after="3")
    peer.refuse(TO, 21610)
    form = {"To": TO, "From": FROM, "Body": "x"}
    first, second, third = post(peer, form), post(peer, form), post(peer, form)
    assert (first.status_code, first.json()["code"], first.headers["retry-after"]) == (
        429,
        20429,
        "3",
    )
    assert (second.status_code, second.json()["code"]) == (400, 21610)
    assert third.status_code == 201
    assert [send.status_code for send in peer.sends] == [429, 400, 201]


def test_status_callbacks_are_signed_as_twilio_signs_them(peer: TwilioPeer, hook: Hook) -> None:
    callback = f"{hook.url}?attempt=a1"
    message = client(peer).messages.create(to=TO, from_=FROM, body="Hi", status_callback=callback)
    peer.wait_settled(10)
    assert [form_of(r)["MessageStatus"] for r in hook.requests] == ["sent", "delivered"]
    validator = RequestValidator(TOKEN)
    for path, headers, form in hook.requests:
        assert path == "/webhooks/up?attempt=a1"
        assert headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert validator.validate(callback, dict(form), headers["X-Twilio-Signature"])
        assert not RequestValidator("another-token").validate(
            callback, dict(form), headers["X-Twilio-Signature"]
        )
        fields = dict(form)
        assert (fields["MessageSid"], fields["SmsSid"], fields["AccountSid"]) == (
            message.sid,
        ) * 2 + (ACCOUNT,)
        assert (fields["To"], fields["From"]) == (TO, FROM)


def form_of(request: tuple[str, dict[str, str], list[tuple[str, str]]]) -> dict[str, str]:
    return dict(request[2])


def test_callbacks_come_late_out_of_order_and_with_error_codes(
    peer: TwilioPeer, hook: Hook
) -> None:
    peer.statuses(TO, "delivered", Step("sent", 0.3))
    peer.statuses("+14155551235", "sent", Step("undelivered", 0, 30003))
    form = {"From": FROM, "Body": "x", "StatusCallback": hook.url}
    started = time.monotonic()
    assert post(peer, {**form, "To": TO}).status_code == 201
    assert post(peer, {**form, "To": "+14155551235"}).status_code == 201
    peer.wait_settled(10)
    by_to: dict[str, list[tuple[str, str | None]]] = {}
    for request in hook.requests:
        fields = form_of(request)
        by_to.setdefault(fields["To"], []).append(
            (fields["MessageStatus"], fields.get("ErrorCode"))
        )
    assert by_to == {
        TO: [("delivered", None), ("sent", None)],
        "+14155551235": [("sent", None), ("undelivered", "30003")],
    }
    assert time.monotonic() - started >= 0.3


def test_whatsapp_sends_and_callbacks_keep_the_prefix(peer: TwilioPeer, hook: Hook) -> None:
    peer.statuses(TO, "sent", "read")
    answer = post(peer, {"To": f"whatsapp:{TO}", "From": f"whatsapp:{FROM}", "Body": "Hi",
                         "StatusCallback": hook.url})  # fmt: skip
    assert answer.status_code == 201 and answer.json()["to"] == f"whatsapp:{TO}"
    peer.wait_settled(10)
    fields = [form_of(r) for r in hook.requests]
    assert [(f["MessageStatus"], f["To"], f["From"]) for f in fields] == [
        ("sent", f"whatsapp:{TO}", f"whatsapp:{FROM}"),
        ("read", f"whatsapp:{TO}", f"whatsapp:{FROM}"),
    ]


def test_a_forged_push_does_not_validate(peer: TwilioPeer, hook: Hook) -> None:
    form = [("MessageSid", "SM" + "0" * 32), ("MessageStatus", "delivered")]
    pushed = peer.push(hook.url, form, token="forged")
    assert pushed.done.wait(10) and pushed.answered == 200
    (_, headers, received) = hook.requests[0]
    assert not RequestValidator(TOKEN).validate(
        hook.url, dict(received), headers["X-Twilio-Signature"]
    )


def test_the_basic_auth_header_is_what_twilio_reads(peer: TwilioPeer) -> None:
    """A malformed Authorization header is a 401 too, never a 500."""
    url = f"{peer.base_url}/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    for header in (
        "Basic !!!",
        "Bearer " + TOKEN,
        "Basic " + base64.b64encode(b"nocolon").decode(),
    ):
        answer = httpx.post(url, data={"To": TO}, headers={"Authorization": header})
        assert (answer.status_code, answer.json()["code"]) == (401, 20003)
