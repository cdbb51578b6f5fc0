"""What Twilio posts to `/webhooks/{connector}`: status callbacks of our messages and,
when the operator points a number's incoming-message webhook here, what recipients
write. Both are `application/x-www-form-urlencoded`, signed with `X-Twilio-Signature`.

A request is believed only when `X-Twilio-Signature` is the base64 HMAC-SHA1, keyed
with the account's auth token, of the full URL Twilio called (query included; rebuilt
from `[server] public_url`) followed by every POST parameter's name and value, the
names sorted (Twilio's "Webhooks security" page; what twilio-python's RequestValidator
computes, with and without the URL's default port). It is compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import msgspec

from opencomms.connectors.base import Inbound, Receipt
from opencomms.connectors.twilio.errors import twilio_error
from opencomms.connectors.twilio.messages import ATTEMPT_PARAMETER, WHATSAPP_PREFIX
from opencomms.domain.errors import UNKNOWN

__all__ = [
    "RECEIPT_STATUSES",
    "STATUSES",
    "Reports",
    "parse_form",
    "reports_of",
    "signature",
    "signature_matches",
]

# a MessageStatus -> the receipt it makes; None: acknowledged, nothing to record (the
# attempt is SENT already from the answer to the send)
RECEIPT_STATUSES: dict[str, str | None] = {
    "accepted": None,
    "scheduled": None,
    "queued": None,
    "sending": None,
    "sent": "SENT",
    "delivered": "DELIVERED",
    "read": "READ",
    "undelivered": "UNDELIVERED",
    "failed": "FAILED",
    "canceled": "FAILED",
}
STATUSES = frozenset(RECEIPT_STATUSES)
INBOUND_STATUSES = frozenset({"received", "receiving"})
_DEFAULT_PORTS = {"http": 80, "https": 443}

Form = Sequence[tuple[str, str]]


class Reports(msgspec.Struct, frozen=True):
    receipts: list[Receipt]
    inbound: list[Inbound]


def parse_form(body: bytes) -> list[tuple[str, str]]:
    """The POST parameters, in order (ValueError when the body is not a form)."""
    return parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)


def signature(auth_token: str, url: str, form: Form) -> str:
    """`X-Twilio-Signature` of a POST of `form` to `url`."""
    data = url + "".join(
        name + value for name in sorted({n for n, _ in form})
        for value in sorted({v for n, v in form if n == name})
    )  # fmt: skip
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _port_variants(url: str) -> set[str]:
    """The URL as called, without its default port, and with it (Twilio signs either)."""
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme)
    host = parts.hostname or ""
    if default is None or (parts.port is not None and parts.port != default):
        return {url}
    bare = urlunsplit(parts._replace(netloc=host))
    ported = urlunsplit(parts._replace(netloc=f"{host}:{default}"))
    return {url, bare, ported}


def signature_matches(auth_token: str, url: str, form: Form, header: str | None) -> bool:
    if not header or not auth_token:
        return False
    given = header.strip().encode()
    return any(
        hmac.compare_digest(signature(auth_token, variant, form).encode(), given)
        for variant in _port_variants(url)
    )


def reports_of(form: Form, query: Mapping[str, str], connector: str) -> Reports:
    """The receipt of a status callback, or the inbound message of an incoming one."""
    fields = dict(form)
    status = fields.get("MessageStatus") or fields.get("SmsStatus") or ""
    sid = fields.get("MessageSid") or fields.get("SmsSid") or None
    if status in INBOUND_STATUSES:
        return Reports([], [_inbound(fields, sid, connector)])
    receipt_status = RECEIPT_STATUSES.get(status)
    if receipt_status is None:
        return Reports([], [])
    attempt_id = query.get(ATTEMPT_PARAMETER) or None
    if receipt_status not in ("UNDELIVERED", "FAILED"):
        return Reports([Receipt(receipt_status, attempt_id, sid)], [])
    code = _code(fields.get("ErrorCode", ""))
    why = f"Twilio error {code}: {twilio_error(code, 400).title}"
    if status == "canceled":
        why = "Twilio canceled the message"
    return Reports([Receipt(receipt_status, attempt_id, sid, code, why)], [])


def _code(text: str) -> int:
    return int(text) if text.strip().isdigit() else UNKNOWN.code


def _inbound(fields: Mapping[str, str], sid: str | None, connector: str) -> Inbound:
    sender = fields.get("From", "")
    return Inbound(
        connector=connector,
        channel="WHATSAPP" if sender.startswith(WHATSAPP_PREFIX) else "SMS",
        from_address=sender.removeprefix(WHATSAPP_PREFIX),
        to_address=fields.get("To", "").removeprefix(WHATSAPP_PREFIX),
        text=fields.get("Body", ""),
        provider_message_id=sid,
    )
