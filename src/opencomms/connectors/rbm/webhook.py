"""What RBM posts to the webhook: the registration handshake, and signed events.

RBM registers a webhook by posting `{clientToken, secret}`: the webhook answers the
secret, as plain text, when the client token is ours. Every other post is a Pub/Sub
push, `{"message": {"data": <base64 JSON>}}`, whose `X-Goog-Signature` header is the
base64 HMAC-SHA512 of the decoded data, keyed with the client token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any, NamedTuple

import msgspec

__all__ = ["Handshake", "Malformed", "parse_post", "read_event", "sign", "signature_valid"]


class Malformed(ValueError):
    """A post that is neither a handshake nor a push (answered 400)."""


class Handshake(NamedTuple):
    client_token: str
    secret: str


def parse_post(body: bytes) -> Handshake | bytes:
    """The handshake, or the push's decoded data (not verified yet)."""
    try:
        document = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise Malformed("the body is not JSON") from None
    if not isinstance(document, dict):
        raise Malformed("the body is not a JSON object")
    token, secret = document.get("clientToken"), document.get("secret")
    if "message" not in document and isinstance(token, str) and isinstance(secret, str):
        return Handshake(token, secret)
    message = document.get("message")
    data = message.get("data") if isinstance(message, dict) else None
    if not isinstance(data, str):
        raise Malformed("no message.data")
    try:
        return base64.b64decode(data, validate=True)
    except binascii.Error:
        raise Malformed("message.data is not base64") from None


def sign(client_token: str, data: bytes) -> str:
    """The X-Goog-Signature of `data`."""
    digest = hmac.new(client_token.encode(), data, hashlib.sha512).digest()
    return base64.b64encode(digest).decode()


def signature_valid(client_token: str, data: bytes, signature: str | None) -> bool:
    if not signature:
        return False
    return hmac.compare_digest(sign(client_token, data).encode(), signature.strip().encode())


def read_event(data: bytes) -> dict[str, Any]:
    """The event or user message in a push's data."""
    try:
        event = msgspec.json.decode(data)
    except msgspec.DecodeError:
        raise Malformed("message.data is not JSON") from None
    if not isinstance(event, dict):
        raise Malformed("message.data is not a JSON object")
    return event
