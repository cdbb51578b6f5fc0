"""One-click unsubscribe links (RFC 8058) and signatures of the bounce webhook.

A link is `{public_url}/webhooks/{connector}?unsubscribe={token}`; the token carries
the attempt id, our sender's address and the recipient's, and an HMAC-SHA256 of them
under the connector's `webhook_secret`, so that nobody can opt out an address they
did not receive mail for. The mail client POSTs `List-Unsubscribe=One-Click` to it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote

import msgspec

__all__ = ["Unsubscribe", "body_signature", "read_token", "signature_matches", "unsubscribe_url"]

_MAC_BYTES = 16


class Unsubscribe(msgspec.Struct, array_like=True, frozen=True):
    attempt_id: str
    sender: str  # our sender's address (the mail's From)
    recipient: str  # the address to opt out


def _mac(secret: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def unsubscribe_url(base: str, secret: str, what: Unsubscribe) -> str:
    """The one-click URL for `what`: `base` is `{public_url}/webhooks/{connector}`."""
    payload = msgspec.json.encode(what)
    token = f"{_b64(payload)}.{_b64(_mac(secret, payload))}"
    return f"{base}?unsubscribe={quote(token)}"


def read_token(secret: str, token: str) -> Unsubscribe | None:
    """What a token asks, or None when it was not made with `secret` (or is garbled)."""
    data, _, mac = token.partition(".")
    try:
        payload, given = _unb64(data), _unb64(mac)
    except ValueError:
        return None
    if not hmac.compare_digest(given, _mac(secret, payload)):
        return None
    try:
        return msgspec.json.decode(payload, type=Unsubscribe)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def body_signature(secret: str, body: bytes) -> str:
    """`X-Opencomms-Signature` of a bounce webhook's body: `sha256=` and the hex HMAC."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(body_signature(secret, body), signature.strip())
