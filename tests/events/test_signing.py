"""Webhook signatures, checked by the receivers' own libraries: twilio and standardwebhooks."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from twilio.request_validator import RequestValidator

from opencomms.domain.event_types import MESSAGE_DELIVERED
from opencomms.events.cloudevents import encode_batch, envelope
from opencomms.events.signing import (
    CONTENT_TYPE,
    TWILIO_SIGNATURE_HEADER,
    USER_AGENT,
    SignedDelivery,
    delivery_message_id,
    new_webhook_secret,
    signed_headers,
    standard_webhook_headers,
    twilio_signature,
)

TOKEN = "0123456789abcdef0123456789abcdef"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

URLS = [
    "https://hooks.example.com/opencomms/events",  # https, default port
    "https://hooks.example.com:443/opencomms/events",  # default port spelled out
    "http://hooks.example.com:8080/events",  # http, explicit port
    "https://hooks.example.com:8443/events",  # https, explicit port
    "https://hooks.example.com/events?tenant=acme&flag=1",  # existing query
    "http://10.1.2.3:9000/cb?a=b%20c&empty=",  # IP host, port, escaped query
    "https://Hooks.Example.COM",  # no path, upper-case host
    "https://hooks.example.com/a?",  # empty query
    "https://hooks.example.com/with space/ä?q=a b",  # needs percent-encoding
    "http://[::1]:8080/v6",  # IPv6 literal
    "https://hooks.example.com/p#fragment",  # fragment, never sent
]


def _large_body() -> bytes:
    events = [
        envelope(
            f"EV{i:032x}",
            MESSAGE_DELIVERED,
            1_714_564_800_000 + i,
            {
                "operation_id": "comms_operation_x",
                "message_id": f"m{i}",
                "tags": {"k": "v" * 10_000},
            },
            f"/v1/Messages/m{i}",
            "https://events-schemas.twilio.com/CommsApi.MessageDelivered/4",
        )
        for i in range(100)
    ]
    return encode_batch(events)


BODIES = {
    "empty array": b"[]",
    "unicode": encode_batch(
        [
            envelope(
                "EV" + "0" * 32,
                MESSAGE_DELIVERED,
                0,
                {"text": "Grüße 👋 مرحبا 你好", "tags": {"é": "ü"}},
                "/v1/Messages/m",
                "https://events-schemas.twilio.com/CommsApi.MessageDelivered/4",
            )
        ]
    ),
    "large": _large_body(),
}


def _receiver_url(request: httpx.Request) -> str:
    """The URL as a receiver rebuilds it: scheme, Host header, raw request target."""
    return f"{request.url.scheme}://{request.headers['host']}{request.url.raw_path.decode()}"


def _validator_url(post_url: str) -> str:
    """The URL without credentials, as a receiver sees it."""
    parts = urlsplit(post_url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


# --- X-Twilio-Signature ------------------------------------------------------------


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("body", list(BODIES.values()), ids=list(BODIES))
def test_twilio_validator_accepts(url: str, body: bytes) -> None:
    post_url, signature = twilio_signature(url, body, TOKEN)
    validator = RequestValidator(TOKEN)
    assert validator.validate(post_url, body.decode(), signature)
    # As the receiver sees the request once httpx has sent it.
    request = httpx.Request("POST", post_url, content=body)
    assert validator.validate(_receiver_url(request), body.decode(), signature)


@pytest.mark.parametrize("url", URLS)
def test_post_url_keeps_the_query_and_adds_the_body_hash(url: str) -> None:
    body = BODIES["unicode"]
    post_url, _ = twilio_signature(url, body, TOKEN)
    query = parse_qs(urlsplit(post_url).query, keep_blank_values=True)
    assert query.pop("bodySHA256") == [hashlib.sha256(body).hexdigest()]
    assert query == parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert "#" not in post_url


@pytest.mark.parametrize("url", URLS)
def test_signed_url_is_what_httpx_puts_on_the_wire(url: str) -> None:
    post_url, _ = twilio_signature(url, b"[]", TOKEN)
    assert _receiver_url(httpx.Request("POST", post_url)) == post_url


@pytest.mark.parametrize(
    ("url", "with_port"),
    [
        ("https://hooks.example.com/e", "https://hooks.example.com:443/e"),
        ("http://hooks.example.com/e?x=1", "http://hooks.example.com:80/e"),
        ("https://hooks.example.com:443/e", "https://hooks.example.com:443/e"),
    ],
)
def test_receiver_may_rebuild_the_url_with_the_default_port(url: str, with_port: str) -> None:
    # RequestValidator tries the URL with and without its port, so a receiver behind a
    # proxy that reports ":443" still validates.
    body = b"[]"
    post_url, signature = twilio_signature(url, body, TOKEN)
    assert ":443" not in post_url
    assert ":80/" not in post_url
    rebuilt = f"{with_port}?{urlsplit(post_url).query}"
    assert RequestValidator(TOKEN).validate(rebuilt, body.decode(), signature)


def test_credentials_are_posted_but_not_signed() -> None:
    body = b"[]"
    post_url, signature = twilio_signature(
        "https://user:p%40ss@hooks.example.com/e?x=1", body, TOKEN
    )
    assert post_url.startswith("https://user:p%40ss@hooks.example.com/e?x=1&bodySHA256=")
    request = httpx.Request("POST", post_url, content=body)
    receiver_url = _receiver_url(request)
    assert "user" not in receiver_url
    assert RequestValidator(TOKEN).validate(receiver_url, body.decode(), signature)
    assert RequestValidator(TOKEN).validate(_validator_url(post_url), body.decode(), signature)


def test_twilio_known_answer() -> None:
    # The JSON-body case of twilio-python's own request_validator tests.
    body = b'{"property": "value", "boolean": true}'
    post_url, signature = twilio_signature(
        "https://mycompany.com/myapp.php?foo=1&bar=2", body, "12345"
    )
    assert post_url == (
        "https://mycompany.com/myapp.php?foo=1&bar=2"
        "&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
    )
    assert signature == "a9nBmqA0ju/hNViExpshrM61xv4="


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("body", list(BODIES.values()), ids=list(BODIES))
def test_twilio_validator_rejects_tampering(url: str, body: bytes) -> None:
    post_url, signature = twilio_signature(url, body, TOKEN)
    text = body.decode()
    validator = RequestValidator(TOKEN)
    # Changed body.
    assert not validator.validate(post_url, text + " ", signature)
    assert not validator.validate(post_url, text.replace("[", "[ ", 1), signature)
    # Changed URL: path, query, or the body hash itself.
    parts = urlsplit(post_url)
    assert not validator.validate(parts._replace(path=parts.path + "x").geturl(), text, signature)
    assert not validator.validate(post_url + "&extra=1", text, signature)
    other_hash = parts._replace(query=parts.query.replace("bodySHA256=", "bodySHA256=0"))
    assert not validator.validate(other_hash.geturl(), text, signature)
    # Wrong token.
    assert not RequestValidator(TOKEN[::-1]).validate(post_url, text, signature)


def test_twilio_validator_checks_the_body_only_when_given_as_text() -> None:
    # A caveat for receivers (and a reason for the docs to say "pass the raw body"):
    # given parsed parameters instead of the raw text, the validator checks the URL
    # (and so the hash in it) but never hashes the body.
    post_url, signature = twilio_signature("https://hooks.example.com/e", b"[]", TOKEN)
    assert RequestValidator(TOKEN).validate(post_url, {}, signature)
    assert not RequestValidator(TOKEN).validate(post_url, "[1]", signature)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/e",
        "hooks.example.com/e",
        "/relative/path",
        "https:///no-host",
        "https://hooks.example.com:99999/e",
        "https://hooks.example.com/e?bodySHA256=abc",
        "https://hooks.example.com/e?a=1&bodySHA256=",
    ],
)
def test_unsignable_urls(url: str) -> None:
    with pytest.raises(ValueError):
        twilio_signature(url, b"[]", TOKEN)


# --- Standard Webhooks ---------------------------------------------------------------


@pytest.mark.parametrize("secret", [SECRET, SECRET.removeprefix("whsec_"), new_webhook_secret()])
@pytest.mark.parametrize("body", list(BODIES.values()), ids=list(BODIES))
def test_standard_webhooks_accepts(secret: str, body: bytes) -> None:
    now = int(time.time())
    headers = standard_webhook_headers(secret, "msg_1", now, body)
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == str(now)
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers) == json.loads(body)


def test_standard_webhooks_known_answer() -> None:
    # The example of the Standard Webhooks reference libraries.
    headers = standard_webhook_headers(
        SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    )
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.mark.parametrize("body", list(BODIES.values()), ids=list(BODIES))
def test_standard_webhooks_rejects_tampering(body: bytes) -> None:
    now = int(time.time())
    headers = standard_webhook_headers(SECRET, "msg_1", now, body)
    tampered = [
        (body + b" ", headers),
        (body.replace(b"[", b"[ ", 1), headers),
        (body, {**headers, "webhook-id": "msg_2"}),
        (body, {**headers, "webhook-timestamp": str(now + 1)}),
    ]
    for data, hdrs in tampered:
        with pytest.raises(WebhookVerificationError):
            Webhook(SECRET).verify(data, hdrs)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_webhook_secret()).verify(body, headers)
    # An old signature is refused even when it is genuine.
    stale = standard_webhook_headers(SECRET, "msg_1", now - 3600, body)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body, stale)


def test_new_webhook_secret() -> None:
    secrets = {new_webhook_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_")
        encoded = secret.removeprefix("whsec_")
        assert "=" not in encoded
        assert len(base64.b64decode(encoded, validate=True)) == 24


def test_padded_secret_of_32_bytes() -> None:
    secret = "whsec_" + base64.b64encode(bytes(range(32))).decode()
    assert secret.endswith("=")
    body = b"[]"
    headers = standard_webhook_headers(secret, "msg_1", int(time.time()), body)
    assert Webhook(secret).verify(body, headers) == []


@pytest.mark.parametrize("secret", ["whsec_", "", "whsec_not base64!", "whsec_@@@@"])
def test_bad_secrets(secret: str) -> None:
    with pytest.raises(ValueError):
        standard_webhook_headers(secret, "msg_1", 0, b"[]")


def test_empty_message_id() -> None:
    with pytest.raises(ValueError):
        standard_webhook_headers(SECRET, "", 0, b"[]")


# --- One call per delivery ---------------------------------------------------------------


@pytest.mark.parametrize("url", URLS)
def test_signed_headers(url: str) -> None:
    body = BODIES["unicode"]
    before = int(time.time())
    delivery = signed_headers(
        url, body, auth_token=TOKEN, webhook_secret=SECRET, message_id="msg_abc"
    )
    assert isinstance(delivery, SignedDelivery)
    post_url, headers = delivery
    assert set(headers) == {
        "Content-Type",
        "User-Agent",
        TWILIO_SIGNATURE_HEADER,
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
    assert headers["Content-Type"] == CONTENT_TYPE == "application/json"
    assert headers["User-Agent"] == USER_AGENT == "opencomms-webhooks/1"
    assert headers["webhook-id"] == "msg_abc"
    assert before <= int(headers["webhook-timestamp"]) <= int(time.time())
    assert (post_url, headers[TWILIO_SIGNATURE_HEADER]) == twilio_signature(url, body, TOKEN)

    # Both receivers accept the request as httpx would send it.
    request = httpx.Request("POST", post_url, content=body, headers=headers)
    assert RequestValidator(TOKEN).validate(
        _receiver_url(request), request.content.decode(), request.headers["x-twilio-signature"]
    )
    assert Webhook(SECRET).verify(request.content, dict(request.headers)) == json.loads(body)


def test_signed_headers_explicit_timestamp() -> None:
    delivery = signed_headers(
        "https://hooks.example.com/e",
        b"[]",
        auth_token=TOKEN,
        webhook_secret=SECRET,
        message_id="msg_1",
        timestamp=1614265330,
    )
    assert delivery.headers["webhook-timestamp"] == "1614265330"
    assert delivery.headers == {
        **delivery.headers,
        **standard_webhook_headers(SECRET, "msg_1", 1614265330, b"[]"),
    }


def test_delivery_message_id() -> None:
    first = delivery_message_id(["EV1", "EV2", "EV3"])
    assert first.startswith("msg_")
    assert len(first) == 4 + 32
    assert first == delivery_message_id(["EV3", "EV1", "EV2"])
    assert first != delivery_message_id(["EV1", "EV2"])
    assert first != delivery_message_id(["EV1", "EV2", "EV4"])
    # No ambiguity from joining: one id is not two.
    assert delivery_message_id(["EV1EV2"]) != delivery_message_id(["EV1", "EV2"])
    assert delivery_message_id(["a\nb"]) != delivery_message_id(["a", "b"])
    with pytest.raises(ValueError):
        delivery_message_id([])
