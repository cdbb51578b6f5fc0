"""What the Cloud API posts to `/webhooks/{connector}`: its signature, its subscription
handshake, and the statuses and user messages in a `messages` notification.

A POST is believed only when `X-Hub-Signature-256` is `sha256=` and the hex HMAC-SHA256
of the raw body under the app secret (compared in constant time). Its body is
`{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages",
"value": {"metadata", "statuses"?, "messages"?}}]}]}`; each status becomes a `Receipt`
(our attempt id from `biz_opaque_callback_data`, the wamid as the provider's id), each
user message an `Inbound`. Other fields (templates, account updates) are acknowledged and
left alone.
"""

from __future__ import annotations

import hashlib
import hmac

import msgspec

from opencomms.connectors.base import Inbound, Receipt
from opencomms.connectors.whatsapp.errors import graph_error, receipt_status

__all__ = [
    "STATUSES",
    "Notification",
    "Reports",
    "decode_notification",
    "handshake_challenge",
    "reports_of",
    "signature_matches",
]

SIGNATURE_PREFIX = "sha256="
# a status -> the receipt's status; `failed` is read from its error (errors.py)
_STATUSES = {"sent": "SENT", "delivered": "DELIVERED", "read": "READ"}
STATUSES = frozenset({*_STATUSES, "failed"})  # the statuses that make a receipt


class _ErrorData(msgspec.Struct):
    details: str = ""


class _Error(msgspec.Struct):
    code: int | None = None
    title: str = ""
    message: str = ""
    error_data: _ErrorData | None = None


class _Status(msgspec.Struct):
    id: str
    status: str
    recipient_id: str = ""
    biz_opaque_callback_data: str | None = None
    errors: list[_Error] = msgspec.field(default_factory=list)


class _Body(msgspec.Struct):
    body: str = ""


class _Button(msgspec.Struct):
    text: str = ""
    payload: str = ""


class _Reply(msgspec.Struct):
    id: str = ""
    title: str = ""


class _Interactive(msgspec.Struct):
    type: str = ""
    button_reply: _Reply | None = None
    list_reply: _Reply | None = None


class _Media(msgspec.Struct):
    caption: str = ""


class _Message(msgspec.Struct):
    from_: str = msgspec.field(name="from")
    id: str = ""
    type: str = ""
    text: _Body | None = None
    button: _Button | None = None
    interactive: _Interactive | None = None
    image: _Media | None = None
    video: _Media | None = None
    document: _Media | None = None


class _Metadata(msgspec.Struct):
    display_phone_number: str = ""
    phone_number_id: str = ""


class _Value(msgspec.Struct):
    metadata: _Metadata | None = None
    statuses: list[_Status] = msgspec.field(default_factory=list)
    messages: list[_Message] = msgspec.field(default_factory=list)


class _Change(msgspec.Struct):
    field: str = ""
    value: _Value | None = None


class _Entry(msgspec.Struct):
    id: str = ""
    changes: list[_Change] = msgspec.field(default_factory=list)


class Notification(msgspec.Struct):
    object: str
    entry: list[_Entry]


class Reports(msgspec.Struct, frozen=True):
    receipts: list[Receipt]
    inbound: list[Inbound]
    other_numbers: list[str]  # phone number ids of changes about another number, skipped


def signature_matches(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` (X-Hub-Signature-256) signs `body` with `secret`."""
    if not header or not header.startswith(SIGNATURE_PREFIX) or not secret:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix(SIGNATURE_PREFIX).strip().lower())


def handshake_challenge(query: dict[str, str], verify_token: str) -> str | None:
    """The challenge to echo when the query is a subscription with our verify token."""
    if query.get("hub.mode") != "subscribe" or not verify_token:
        return None
    given = query.get("hub.verify_token", "")
    if not hmac.compare_digest(given.encode(), verify_token.encode()):
        return None
    return query.get("hub.challenge")


def decode_notification(body: bytes) -> Notification:
    """The notification (msgspec.DecodeError or ValidationError when it is not one)."""
    return msgspec.json.decode(body, type=Notification)


def reports_of(notification: Notification, connector: str, phone_number_id: str) -> Reports:
    """Every receipt and user message of a notification about our number."""
    receipts: list[Receipt] = []
    inbound: list[Inbound] = []
    others: list[str] = []
    for entry in notification.entry:
        for change in entry.changes:
            value = change.value
            if change.field != "messages" or value is None:
                continue
            metadata = value.metadata or _Metadata()
            if metadata.phone_number_id and metadata.phone_number_id != phone_number_id:
                others.append(metadata.phone_number_id)
                continue
            receipts += [r for s in value.statuses if (r := _receipt(s)) is not None]
            ours = _e164(metadata.display_phone_number)
            inbound += [_inbound(m, connector, ours) for m in value.messages]
    return Reports(receipts, inbound, others)


def _receipt(status: _Status) -> Receipt | None:
    attempt_id = status.biz_opaque_callback_data or None
    if status.status in _STATUSES:
        return Receipt(_STATUSES[status.status], attempt_id, status.id)
    if status.status != "failed":
        return None  # played, deleted…: nothing the attempt's status shows
    error = status.errors[0] if status.errors else _Error()
    row = graph_error(error.code, 400)
    details = error.error_data.details if error.error_data else ""
    why = f"WhatsApp error {error.code}: {error.title or error.message or row.title}"
    if details:
        why += f" ({details})"
    return Receipt(receipt_status(error.code), attempt_id, status.id, row.twilio_code, why)


def _inbound(message: _Message, connector: str, ours: str) -> Inbound:
    return Inbound(
        connector=connector,
        channel="WHATSAPP",
        from_address=_e164(message.from_),
        to_address=ours,
        text=_text_of(message),
        provider_message_id=message.id or None,
    )


def _text_of(message: _Message) -> str:
    """What the user wrote: a text, a quick-reply button's text, an interactive reply's
    title, a media's caption; empty for what carries no text (a location, a sticker…)."""
    if message.text is not None:
        return message.text.body
    if message.button is not None:
        return message.button.text or message.button.payload
    if message.interactive is not None:
        reply = message.interactive.button_reply or message.interactive.list_reply
        return reply.title if reply is not None else ""
    media = message.image or message.video or message.document
    return media.caption if media is not None else ""


def _e164(number: str) -> str:
    """A WhatsApp number (`16505551234`, or displayed `+1 650-555-1234`) in E.164."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return "+" + digits if digits else number
