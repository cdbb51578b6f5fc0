"""Delivery reports: RFC 3464 DSNs (multipart/report; report-type=delivery-status) and
the bounce webhook's JSON, both made into receipts.

An attempt is found by its id: the DSN's `Original-Envelope-Id` (the ENVID we gave at
MAIL FROM, RFC 3461), else the `Message-ID` of the returned headers (`<SM…@domain>`).
Per recipient, `Action: failed` is UNDELIVERED with the error of its `Status` (the
table of errors.py); `delivered`, `relayed` and `expanded` are DELIVERED (a relay
that hands the mail to a system without DSNs reports `relayed`: the furthest we can
know); `delayed` moves nothing.
"""

from __future__ import annotations

import re
from email.message import Message

import msgspec

from opencomms.connectors.base import Receipt
from opencomms.connectors.smtp.errors import Kind, enhanced_code, reply_row

__all__ = ["Bounce", "BounceReport", "bounce_receipts", "dsn_bounces"]

ATTEMPT_ID = re.compile(r"(?:SM|MM)[0-9a-f]{32}")
_DELIVERED = frozenset({"delivered", "relayed", "expanded"})


class Bounce(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One recipient's fate, as a DSN's per-recipient fields or the webhook's JSON say."""

    envelope_id: str  # our attempt id
    action: str  # failed, delayed, delivered, relayed or expanded (RFC 3464 2.3.3)
    status: str = ""  # the enhanced status code, e.g. "5.1.1"
    recipient: str = ""
    diagnostic: str = ""  # e.g. "smtp; 550 5.1.1 No such user"


class BounceReport(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The bounce webhook's body (docs/smtp.md)."""

    bounces: list[Bounce]


def bounce_receipts(bounces: list[Bounce]) -> list[Receipt]:
    """The receipts these report; a `delayed` one (or an unknown action) reports none."""
    receipts = []
    for bounce in bounces:
        action = bounce.action.strip().lower()
        if action in _DELIVERED:
            receipts.append(Receipt("DELIVERED", attempt_id=bounce.envelope_id))
        elif action == "failed":
            receipts.append(_failed(bounce))
    return receipts


def _failed(bounce: Bounce) -> Receipt:
    status = enhanced_code(bounce.status) or "5.0.0"
    code = int(status[0]) * 100 + 50  # a basic code of the status's class
    row = reply_row(code, status)
    twilio_code = row.twilio_code if row.kind is not Kind.RETRY else 30008
    why = f"SMTP {status}: {bounce.diagnostic or row.title}"
    return Receipt(
        "UNDELIVERED", attempt_id=bounce.envelope_id, error_code=twilio_code,
        error_message=why[:500],
    )  # fmt: skip


def dsn_bounces(mail: Message) -> list[Bounce] | None:
    """The bounces of a delivery report of ours; None when `mail` is not one (not a
    delivery-status report, or one that names no attempt of ours)."""
    if mail.get_content_type() != "multipart/report":
        return None
    if str(mail.get_param("report-type") or "").lower() != "delivery-status":
        return None
    blocks = _status_blocks(mail)
    if not blocks:
        return None
    envelope_id = _attempt_of(blocks[0].get("Original-Envelope-Id", "")) or _returned_id(mail)
    if envelope_id is None:
        return None
    return [
        Bounce(
            envelope_id=envelope_id,
            action=str(block.get("Action", "")).strip(),
            status=str(block.get("Status", "")).strip(),
            recipient=str(block.get("Final-Recipient", "")).partition(";")[2].strip(),
            diagnostic=" ".join(str(block.get("Diagnostic-Code", "")).split()),
        )
        for block in blocks[1:]
    ] or None


def _status_blocks(mail: Message) -> list[Message]:
    """The message/delivery-status part's field blocks: per message, then per recipient."""
    for part in mail.walk():
        if part.get_content_type() == "message/delivery-status":
            payload = part.get_payload()
            return [block for block in payload if isinstance(block, Message)]
    return []


def _attempt_of(text: str) -> str | None:
    found = ATTEMPT_ID.fullmatch(text.strip().strip("<>").partition("@")[0])
    return found.group(0) if found else None


def _returned_id(mail: Message) -> str | None:
    """The attempt id in the Message-ID of the returned message or headers."""
    for part in mail.walk():
        if part.get_content_type() in ("text/rfc822-headers", "message/rfc822"):
            headers = part.get_payload()
            if isinstance(headers, list) and headers and isinstance(headers[0], Message):
                found = headers[0].get("Message-ID", "")
            else:
                text = part.get_payload(decode=True)
                text = text if isinstance(text, bytes) else b""
                match = re.search(rb"(?im)^Message-ID:\s*<([^>@]+)@", text)
                found = match.group(1).decode("ascii", "replace") if match else ""
            if attempt := _attempt_of(str(found)):
                return attempt
    return None
