"""The peer's REST side: what `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`
checks, the error it refuses with (Twilio's `{code, message, more_info, status}`), and
the Message resource it answers 201 with. Written from Twilio's Message resource
reference and error dictionary."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

__all__ = ["ERRORS", "ApiError", "Outgoing", "message_resource", "validate"]

MORE_INFO = "https://www.twilio.com/docs/errors/"
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
SERVICE_SID = re.compile(r"^MG[0-9a-f]{32}$")
WHATSAPP = "whatsapp:"
MAX_BODY = 1600
MAX_MEDIA = 10
MAX_VALIDITY_S = 36_000

# code -> (HTTP status, message) as Twilio answers them
ERRORS: dict[int, tuple[int, str]] = {
    20003: (401, "Authenticate"),
    20404: (404, "The requested resource {path} was not found"),
    20429: (429, "Too Many Requests"),
    20500: (500, "Internal Server Error"),
    20503: (503, "Service Unavailable"),
    21211: (400, "Invalid 'To' Phone Number: {to}"),
    21212: (400, "Invalid From Number (caller ID): {from_}"),
    21408: (
        400,
        "Permission to send an SMS has not been enabled for the region indicated by the "
        "'To' number: {to}",
    ),
    21602: (400, "Message body is required."),
    21603: (400, "A 'From' phone number is required."),
    21604: (400, "A 'To' phone number is required."),
    21606: (
        400,
        "The 'From' phone number provided is not a valid message-capable Twilio phone "
        "number for this destination/account",
    ),
    21609: (400, "Invalid StatusCallback url"),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21611: (400, "This 'From' number has exceeded the maximum number of queued messages"),
    21612: (
        400,
        "The 'To' phone number: {to}, is not currently reachable using the 'From' phone "
        "number: {from_} via SMS.",
    ),
    21614: (400, "'To' number {to} is not a valid mobile number"),
    21617: (400, "The concatenated message body exceeds the 1600 character limit."),
    21620: (400, "Invalid media URL(s)"),
    21623: (400, "Number of media files exceeds allowed limit"),
    21701: (400, "The Messaging Service Sid {service} is invalid"),
    21910: (400, "Invalid From and To pair. From and To should be of the same channel"),
    60200: (400, "Invalid parameter"),
}


class ApiError(Exception):
    """A refusal: Twilio's error body with its HTTP status."""

    def __init__(self, code: int, **details: str) -> None:
        self.status, template = ERRORS.get(code, (400, "Error"))
        self.code = code
        self.message = template.format(
            **{"to": "", "from_": "", "path": "", "service": ""} | details
        )
        super().__init__(f"{code} {self.message}")

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"{MORE_INFO}{self.code}",
            "status": self.status,
        }


@dataclass
class Outgoing:
    """A request the peer found well formed."""

    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    media: list[str]
    status_callback: str | None
    validity_period_s: int | None
    form: list[tuple[str, str]] = field(default_factory=list)

    @property
    def number(self) -> str:
        """The recipient's number without any channel prefix."""
        return self.to.removeprefix(WHATSAPP)


def _one(form: Sequence[tuple[str, str]], name: str) -> str | None:
    values = [value for key, value in form if key == name]
    return values[-1] if values else None


def _url_ok(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and "_" not in parts.netloc


def validate(form: list[tuple[str, str]], services: frozenset[str]) -> Outgoing:
    """The request as an Outgoing, or the ApiError Twilio answers it with."""
    to, from_ = _one(form, "To"), _one(form, "From")
    service = _one(form, "MessagingServiceSid")
    body, media = _one(form, "Body") or "", [v for k, v in form if k == "MediaUrl"]
    if not to:
        raise ApiError(21604)
    if not from_ and not service:
        raise ApiError(21603)
    if service and (not SERVICE_SID.match(service) or service not in services):
        raise ApiError(21701, service=service)
    if not body and not media and not _one(form, "ContentSid"):
        raise ApiError(21602)
    if len(body) > MAX_BODY:
        raise ApiError(21617)
    if len(media) > MAX_MEDIA:
        raise ApiError(21623)
    if any(not _url_ok(url) for url in media):
        raise ApiError(21620)
    _check_addresses(to, from_)
    callback = _one(form, "StatusCallback")
    if callback is not None and not _url_ok(callback):
        raise ApiError(21609)
    validity = _validity(_one(form, "ValidityPeriod"))
    return Outgoing(to, from_, service, body, media, callback, validity, list(form))


def _check_addresses(to: str, from_: str | None) -> None:
    on_whatsapp = to.startswith(WHATSAPP)
    if not E164.match(to.removeprefix(WHATSAPP)):
        raise ApiError(21211, to=to)
    if from_ is None:
        return
    if from_.startswith(WHATSAPP) != on_whatsapp:
        raise ApiError(21910)
    bare = from_.removeprefix(WHATSAPP)
    if not E164.match(bare) and (on_whatsapp or not ALPHANUMERIC_SENDER.match(bare)):
        raise ApiError(21212, from_=from_)


def _validity(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_VALIDITY_S:
        raise ApiError(60200)
    return int(text)


def new_sid(media: bool) -> str:
    return ("MM" if media else "SM") + secrets.token_hex(16)


def message_resource(
    account_sid: str, sid: str, outgoing: Outgoing, status: str, segments: int
) -> dict[str, Any]:
    """The Message resource of the 201 answer (Twilio's fields, in its JSON shape)."""
    now = formatdate(usegmt=True).replace("GMT", "+0000")
    uri = f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}"
    return {
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "body": outgoing.body,
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": outgoing.from_,
        "messaging_service_sid": outgoing.messaging_service_sid,
        "num_media": str(len(outgoing.media)),
        "num_segments": str(segments),
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": status,
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": outgoing.to,
        "uri": f"{uri}.json",
    }
