"""Twilio error codes, and what each means for an attempt.

One table for both ways an error comes: in the answer to a send (`{"code", "message",
"more_info", "status"}`) and as the `ErrorCode` of an `undelivered` or `failed` status
callback. opencomms speaks Twilio's wire, so an attempt that fails keeps Twilio's own
code. Each code is one of three kinds (docs/twilio.md has the table):

- REFUSED: the message cannot go this way (an invalid or unsubscribed number, a region
  not enabled, a landline, a carrier filter…): the attempt FAILS, and the fallback
  moves on;
- THROTTLED: too fast for now (20429, the sender's queue full, Twilio unavailable): the
  same attempt is sent again after `retry_after_ms` (or `Retry-After`, when longer);
- OPERATOR: the credentials are refused or the account cannot send (20003, a suspended
  account, our StatusCallback URL refused): nothing can go until the operator fixes it,
  so the attempt waits (THROTTLED, a minute) and the connector logs an error, rather
  than failing every Message over to the next channel.

A code not in the table is read by the HTTP status: 429 and 5xx THROTTLED, 401 and 403
OPERATOR, any other REFUSED. In a status callback every failure ends the attempt (it
was taken, so it cannot be sent again as the same attempt), whatever its kind.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

__all__ = ["ERRORS", "OPERATOR_RETRY_MS", "QUEUE_FULL", "Kind", "TwilioError", "twilio_error"]


class Kind(StrEnum):
    REFUSED = "refused"  # the attempt fails; the fallback moves on
    THROTTLED = "throttled"  # the same attempt is sent again later
    OPERATOR = "operator"  # the credentials or the account must be fixed: wait, say so


class TwilioError(NamedTuple):
    title: str  # Twilio's title for the code
    kind: Kind
    retry_after_ms: int = 0  # THROTTLED and OPERATOR: when to send it again


SECOND = 1000
MINUTE = 60 * SECOND
OPERATOR_RETRY_MS = MINUTE
QUEUE_FULL = 21611  # one From number's queue at Twilio: the others' sends go on

R, T, OP = Kind.REFUSED, Kind.THROTTLED, Kind.OPERATOR

# Twilio's error dictionary (twilio.com/docs/api/errors): code -> what it means here
ERRORS: dict[int, TwilioError] = {
    # the account or the credentials: an operator must act
    20003: TwilioError("Authentication Error - invalid username or password", OP, MINUTE),
    20005: TwilioError("Account not active", OP, MINUTE),
    20404: TwilioError("The requested resource was not found", OP, MINUTE),
    21609: TwilioError("Invalid 'StatusCallback'", OP, MINUTE),
    30002: TwilioError("Account suspended", OP, MINUTE),
    # throttling and availability: pace, and send the same attempt again
    20429: TwilioError("Too Many Requests", T, SECOND),
    20500: TwilioError("Internal Server Error", T, 5 * SECOND),
    20503: TwilioError("Service Unavailable", T, 5 * SECOND),
    QUEUE_FULL: TwilioError(
        "This 'From' number has exceeded the maximum number of queued messages", T, MINUTE
    ),
    30001: TwilioError("Queue overflow", T, MINUTE),
    # the message cannot go this way: the fallback moves on
    21211: TwilioError("Invalid 'To' Phone Number", R),
    21212: TwilioError("Invalid 'From' Number", R),
    21408: TwilioError("Permission to send an SMS has not been enabled for the region", R),
    21602: TwilioError("Message body is required", R),
    21603: TwilioError("A 'From' phone number is required", R),
    21604: TwilioError("A 'To' phone number is required", R),
    21606: TwilioError("The 'From' phone number is not a valid message-capable number", R),
    21610: TwilioError("Attempt to send to unsubscribed recipient", R),
    21612: TwilioError("The 'To' phone number is not currently reachable", R),
    21614: TwilioError("'To' number is not a valid mobile number", R),
    21617: TwilioError("The concatenated message body exceeds the 1600 character limit", R),
    21620: TwilioError("Invalid media URL(s)", R),
    21623: TwilioError("Number of media files exceeds allowed limit", R),
    21910: TwilioError("Invalid 'From' and 'To' pair", R),
    30003: TwilioError("Unreachable destination handset", R),
    30004: TwilioError("Message blocked", R),
    30005: TwilioError("Unknown destination handset", R),
    30006: TwilioError("Landline or unreachable carrier", R),
    30007: TwilioError("Message filtered", R),
    30008: TwilioError("Unknown error", R),
    30034: TwilioError("Message from an unregistered number", R),
    30036: TwilioError("Validity period expired", R),
    63003: TwilioError("Channel could not find To address", R),
    63016: TwilioError("Failed to send freeform message outside the allowed window", R),
    63024: TwilioError("Invalid message recipient", R),
}


def twilio_error(code: int | None, http_status: int) -> TwilioError:
    """What an error means: its row, else what its HTTP status says."""
    if code is not None and code in ERRORS:
        return ERRORS[code]
    if http_status == 429:
        return TwilioError("Too Many Requests", T, SECOND)
    if http_status >= 500:
        return TwilioError("Server error", T, 5 * SECOND)
    if http_status in (401, 403):
        return TwilioError("Not authorized", OP, OPERATOR_RETRY_MS)
    return TwilioError("Error", R)
