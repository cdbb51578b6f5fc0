"""What an SMTP reply makes of an attempt (the table of docs/smtp.md).

A reply is a code (RFC 5321) and, from any relay that announces ENHANCEDSTATUSCODES,
an enhanced status code (RFC 3463, `class.subject.detail`) at the start of its text.
The enhanced code decides where there is one; else the basic code. 2xx: taken. 4xx: a
transient refusal, the same attempt is submitted again after a backoff. 5xx: a
permanent one, the attempt FAILED at once so that the fallback moves on. The same table
names the error of a delivery report (a DSN's `Status:` field) that comes later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ENHANCED", "Kind", "Row", "enhanced_code", "reply_row"]


class Kind(StrEnum):
    REFUSED = "refused"  # the attempt FAILED (or, in a DSN, UNDELIVERED)
    RETRY = "retry"  # THROTTLED: submitted again after a backoff
    OPERATOR = "operator"  # our credentials refused: nothing is sent until fixed


@dataclass(frozen=True)
class Row:
    kind: Kind
    twilio_code: int  # the attempt's error code, in Twilio's vocabulary
    title: str


UNKNOWN = 30008  # Twilio's "Unknown error"
UNREACHABLE = 30003  # "Unreachable destination handset"
UNKNOWN_DESTINATION = 30005  # "Unknown destination handset"
FILTERED = 30007  # "Message filtered"
TOO_LARGE = 30019  # "Content size exceeds carrier limit"
INVALID_TO = 21211  # "Invalid 'To' Phone Number"

# enhanced status code -> row; a permanent code not listed takes its subject's row
# (`5.7` for `5.7.26`), then UNKNOWN
ENHANCED: dict[str, Row] = {
    "5.1.1": Row(Kind.REFUSED, UNKNOWN_DESTINATION, "bad destination mailbox address"),
    "5.1.2": Row(Kind.REFUSED, UNKNOWN_DESTINATION, "bad destination system address"),
    "5.1.3": Row(Kind.REFUSED, INVALID_TO, "bad destination mailbox address syntax"),
    "5.1.6": Row(Kind.REFUSED, UNKNOWN_DESTINATION, "destination mailbox has moved"),
    "5.1.10": Row(Kind.REFUSED, UNKNOWN_DESTINATION, "recipient address has null MX"),
    "5.2.1": Row(Kind.REFUSED, UNREACHABLE, "mailbox disabled"),
    "5.2.2": Row(Kind.REFUSED, UNREACHABLE, "mailbox full"),
    "5.2.3": Row(Kind.REFUSED, TOO_LARGE, "message length exceeds administrative limit"),
    "5.3.4": Row(Kind.REFUSED, TOO_LARGE, "message too big for system"),
    "5.4.4": Row(Kind.REFUSED, UNREACHABLE, "unable to route"),
    "5.7.1": Row(Kind.REFUSED, FILTERED, "delivery not authorized, message refused"),
    "5.7.8": Row(Kind.OPERATOR, UNKNOWN, "authentication credentials invalid"),
    "5.7": Row(Kind.REFUSED, FILTERED, "security or policy status"),
    "5.1": Row(Kind.REFUSED, UNKNOWN_DESTINATION, "addressing status"),
}

# basic reply code -> row, where the reply carries no enhanced code
BASIC: dict[int, Row] = {
    530: Row(Kind.OPERATOR, UNKNOWN, "authentication required"),
    535: Row(Kind.OPERATOR, UNKNOWN, "authentication credentials invalid"),
    550: Row(Kind.REFUSED, UNKNOWN_DESTINATION, "mailbox unavailable"),
    551: Row(Kind.REFUSED, UNKNOWN_DESTINATION, "user not local"),
    552: Row(Kind.REFUSED, TOO_LARGE, "exceeded storage allocation"),
    553: Row(Kind.REFUSED, INVALID_TO, "mailbox name not allowed"),
    554: Row(Kind.REFUSED, FILTERED, "transaction failed"),
}

_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})(?!\S)")


def enhanced_code(text: str) -> str | None:
    """The enhanced status code at the start of a reply's text (or of a DSN's Status)."""
    found = _ENHANCED.match(text)
    return ".".join(found.groups()) if found else None


def reply_row(code: int, text: str) -> Row:
    """The row of a reply that is not 2xx: `code` its basic code, `text` its text."""
    enhanced = enhanced_code(text)
    if code in (530, 535) or enhanced == "5.7.8":
        return ENHANCED["5.7.8"]
    if 400 <= code < 500 or (enhanced or "").startswith("4."):
        return Row(Kind.RETRY, UNKNOWN, "transient failure")
    if enhanced is not None:
        subject = enhanced.rsplit(".", 1)[0]
        return ENHANCED.get(enhanced) or ENHANCED.get(subject) or _unknown()
    return BASIC.get(code) or _unknown()


def _unknown() -> Row:
    return Row(Kind.REFUSED, UNKNOWN, "permanent failure")
