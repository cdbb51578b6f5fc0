"""Signatures on webhook deliveries: Twilio's `X-Twilio-Signature` and Standard Webhooks.

Every delivery carries both (EVENTS.md, "Delivery"), so a receiver can keep the
Twilio helper it already uses (`twilio.request_validator.RequestValidator`) or use
any Standard Webhooks library. The delivery worker calls `signed_headers` once per
POST and sends the body to the URL it returns, with the headers it returns.

Twilio, JSON bodies: the request goes to the sink URL with a `bodySHA256=<hex
SHA-256 of the body>` query parameter added, and the signature is
base64(HMAC-SHA1(auth token, that full URL)); no body parameters are appended, as
they are for form posts. `RequestValidator.validate(url, body_text, signature)`
recomputes the body hash when it is given the body as a `str` (not bytes, not a
parsed dict) and accepts the URL with or without its port.

The URL is signed as it travels on the wire, because that is what the receiver
rebuilds from the request line and `Host` header: lower-case scheme and host,
IDNA host, no default port, `/` for an empty path, dot segments removed,
percent-encoding as httpx applies it, no fragment. Credentials in the URL
(`https://user:pass@host/…`, which Twilio allows on sinks) are kept in the URL to
POST to, so the client sends them as Basic auth, but are left out of the signed
URL, since the receiver never sees them in a URL.

Standard Webhooks (https://www.standardwebhooks.com): `webhook-id`,
`webhook-timestamp` (seconds) and `webhook-signature` = `v1,` + base64
HMAC-SHA256 of `{id}.{timestamp}.{body}`, keyed with the base64-decoded part of
the `whsec_…` secret. The id must stay the same across retries of the same body,
as receivers use it to drop duplicates: `delivery_message_id` derives it from the
event ids in the body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from typing import NamedTuple
from urllib.parse import parse_qs, quote, urlsplit

__all__ = [
    "BODY_HASH_PARAM",
    "CONTENT_TYPE",
    "TWILIO_SIGNATURE_HEADER",
    "USER_AGENT",
    "WEBHOOK_SECRET_PREFIX",
    "SignedDelivery",
    "delivery_message_id",
    "new_webhook_secret",
    "signed_headers",
    "standard_webhook_headers",
    "twilio_signature",
]

CONTENT_TYPE = "application/json"
USER_AGENT = "opencomms-webhooks/1"
TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"
BODY_HASH_PARAM = "bodySHA256"
WEBHOOK_SECRET_PREFIX = "whsec_"

# 24 bytes as Svix does: 192 bits of key, and base64 without padding, which every
# Standard Webhooks verifier decodes (some add "==" blindly before decoding).
_SECRET_BYTES = 24

_DEFAULT_PORTS = {"http": 80, "https": 443}

# The WHATWG percent-encode sets that httpx applies (httpx/_urlparse.py): printable
# ASCII minus these characters stays as is (`%` too, escape or not), everything else
# is UTF-8 percent-encoded.
_QUERY_UNSAFE = ' "#<>'
_PATH_UNSAFE = _QUERY_UNSAFE + "?`{}"
_QUERY_SAFE = "".join(chr(i) for i in range(0x21, 0x7F) if chr(i) not in _QUERY_UNSAFE)
_PATH_SAFE = "".join(chr(i) for i in range(0x21, 0x7F) if chr(i) not in _PATH_UNSAFE)


class SignedDelivery(NamedTuple):
    """What one webhook POST needs besides its body."""

    url: str
    """Where to POST: the sink URL with `bodySHA256` added (and its credentials, if any)."""
    headers: dict[str, str]
    """Content-Type, User-Agent, X-Twilio-Signature and the three `webhook-*` headers."""


def signed_headers(
    url: str,
    body: bytes,
    *,
    auth_token: str,
    webhook_secret: str,
    message_id: str,
    timestamp: int | None = None,
) -> SignedDelivery:
    """The URL and every header for one delivery of `body` to `url`.

    `auth_token` signs `X-Twilio-Signature`; `webhook_secret` (`whsec_…`) signs the
    Standard Webhooks headers; `message_id` must be the same on every retry of
    this body (see `delivery_message_id`); `timestamp` is the attempt time in
    seconds, now by default. Raises ValueError for a URL that cannot be signed
    (see `twilio_signature`) or a malformed secret.
    """
    if timestamp is None:
        timestamp = int(time.time())
    post_url, signature = twilio_signature(url, body, auth_token)
    headers = {
        "Content-Type": CONTENT_TYPE,
        "User-Agent": USER_AGENT,
        TWILIO_SIGNATURE_HEADER: signature,
    }
    headers.update(standard_webhook_headers(webhook_secret, message_id, timestamp, body))
    return SignedDelivery(post_url, headers)


def twilio_signature(url: str, body: bytes, auth_token: str) -> tuple[str, str]:
    """`(url to POST to, X-Twilio-Signature)` for a JSON `body` sent to `url`.

    The URL to POST to is `url` in its wire form with `bodySHA256=<hex>` appended
    to any existing query. Raises ValueError when `url` is not an absolute http(s)
    URL with a host, or already has a `bodySHA256` parameter (the receiver would
    check the body against the first one, which is not ours).
    """
    credentials, signed = _wire_form(url)
    if BODY_HASH_PARAM in parse_qs(urlsplit(signed).query, keep_blank_values=True):
        raise ValueError(f"the URL already has a {BODY_HASH_PARAM} query parameter")
    separator = "&" if urlsplit(signed).query else ("" if signed.endswith("?") else "?")
    signed += f"{separator}{BODY_HASH_PARAM}={hashlib.sha256(body).hexdigest()}"
    mac = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1)
    signature = base64.b64encode(mac.digest()).decode("ascii")
    if credentials:
        scheme, rest = signed.split("://", 1)
        return f"{scheme}://{credentials}@{rest}", signature
    return signed, signature


def standard_webhook_headers(
    secret: str, message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """`webhook-id`, `webhook-timestamp` and `webhook-signature` for `body`.

    `secret` is `whsec_` + base64 (the prefix is optional, padding too); ValueError
    if it does not decode to at least one byte. `timestamp` is in seconds:
    verifiers refuse one more than a few minutes away from their clock.
    """
    if not message_id:
        raise ValueError("the webhook message id must not be empty")
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_key(secret), signed, hashlib.sha256).digest()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode("ascii"),
    }


def new_webhook_secret() -> str:
    """A fresh Standard Webhooks secret: `whsec_` + base64 of 24 random bytes."""
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def delivery_message_id(event_ids: Iterable[str]) -> str:
    """A Standard Webhooks message id for a body carrying these events.

    Derived from the event ids (in any order), so a retry of the same batch gets
    the same id, and a batch with other events gets another one: a receiver that
    drops repeated ids then never drops an event it has not seen.
    """
    ids = sorted(event_ids)
    if not ids:
        raise ValueError("a delivery carries at least one event")
    # Length-prefixed, so that no two lists of ids hash the same text.
    text = "".join(f"{len(event_id)}:{event_id}" for event_id in ids)
    return "msg_" + hashlib.sha256(text.encode()).hexdigest()[:32]


def _secret_key(secret: str) -> bytes:
    encoded = secret.removeprefix(WEBHOOK_SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError("the webhook secret is not whsec_ followed by base64") from exc
    if not key:
        raise ValueError("the webhook secret is empty")
    return key


def _wire_form(url: str) -> tuple[str, str]:
    """`(credentials, url)`: `url` as sent on the wire, without its credentials.

    Mirrors what httpx sends (httpx/_urlparse.py), so the URL we sign is the URL
    the receiver sees; the tests compare the two.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError("a webhook URL must be http or https")
    host = parts.hostname  # lower-cased, IPv6 brackets removed
    if not host:
        raise ValueError("a webhook URL must have a host")
    port = parts.port  # ValueError when not a number in range
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    credentials = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    path = quote(_remove_dot_segments(parts.path or "/"), safe=_PATH_SAFE)
    wire = f"{scheme}://{netloc}{path}"
    if parts.query or url.split("#", 1)[0].endswith("?"):
        wire += "?" + quote(parts.query, safe=_QUERY_SAFE)
    return credentials, wire


def _remove_dot_segments(path: str) -> str:
    # As httpx does it, which is what goes on the wire ("/a/." becomes "/a").
    segments = path.split("/")
    if "." not in segments and ".." not in segments:
        return path
    out: list[str] = []
    for segment in segments:
        if segment == "..":
            if out and out != [""]:
                out.pop()
        elif segment != ".":
            out.append(segment)
    return "/".join(out)
