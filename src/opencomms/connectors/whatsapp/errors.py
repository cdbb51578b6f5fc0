"""Graph API error codes of the WhatsApp Cloud API, and what each means for an attempt.

One table for both ways an error comes: in the answer to a send (`{"error": {"code",
"message", "error_data": {"details"}}}`) and in a `failed` status webhook (`errors[]`).
Each code is one of three kinds (docs/whatsapp.md has the table):

- REFUSED: the message cannot go this way (not a WhatsApp user, outside the 24-hour
  window, an unknown template…): the attempt FAILS with a Twilio error code where one
  fits (30008 otherwise), and the fallback moves on;
- THROTTLED: too fast for now (the number's throughput, the pair rate to one user, the
  Graph API's own limits, Meta's servers unavailable): the same attempt is sent again
  after `retry_after_ms`, nothing failed;
- OPERATOR: the access token is expired, revoked or lacks a permission: nothing can be
  sent until the operator fixes it, so the attempt waits (THROTTLED, a minute) and the
  connector logs an error, rather than failing every Message over to the next channel.

A code not in the table is read by its HTTP status: 429 and 5xx THROTTLED, 401 and 403
OPERATOR, any other REFUSED; a code in 132000–132999 (templates) is REFUSED. In a
webhook, a failure always ends the attempt: the message was taken, so it cannot be
retried as the same attempt; one the recipient's side refused (131026, 131049, 131050,
130472) is UNDELIVERED, any other FAILED.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from opencomms.domain.errors import UNKNOWN

__all__ = [
    "ERRORS",
    "OPERATOR_RETRY_MS",
    "PAIR_RATE_LIMIT",
    "THROUGHPUT_LIMIT",
    "UNDELIVERABLE",
    "GraphError",
    "Kind",
    "graph_error",
    "receipt_status",
]


class Kind(StrEnum):
    REFUSED = "refused"  # the attempt fails; the fallback moves on
    THROTTLED = "throttled"  # the same attempt is sent again later
    OPERATOR = "operator"  # the credentials must be fixed: wait, and say so loudly


class GraphError(NamedTuple):
    title: str  # Meta's title for the code
    kind: Kind
    twilio_code: int = UNKNOWN.code  # the attempt's error code when it fails
    retry_after_ms: int = 0  # THROTTLED and OPERATOR: when to send it again


SECOND = 1000
MINUTE = 60 * SECOND
OPERATOR_RETRY_MS = MINUTE
THROUGHPUT_LIMIT = 130429
PAIR_RATE_LIMIT = 131056
UNDELIVERABLE = 131026

R, T, OP = Kind.REFUSED, Kind.THROTTLED, Kind.OPERATOR

# Meta's "WhatsApp error codes" page: code -> what it means here
ERRORS: dict[int, GraphError] = {
    # authorization: an operator must act
    0: GraphError("AuthException", OP, 63001, OPERATOR_RETRY_MS),
    3: GraphError("API Method", OP, 63001, OPERATOR_RETRY_MS),
    10: GraphError("Permission Denied", OP, 63001, OPERATOR_RETRY_MS),
    190: GraphError("Access token has expired", OP, 63001, OPERATOR_RETRY_MS),
    131005: GraphError("Access denied", OP, 63001, OPERATOR_RETRY_MS),
    # throttling and availability: pace, and send the same attempt again
    2: GraphError("API Service", T, 63012, 5 * SECOND),
    4: GraphError("API Too Many Calls", T, 63018, MINUTE),
    80007: GraphError("Rate limit issues", T, 63018, MINUTE),
    THROUGHPUT_LIMIT: GraphError("Rate limit hit", T, 63018, SECOND),
    131000: GraphError("Something went wrong", T, 63012, 5 * SECOND),
    131016: GraphError("Service unavailable", T, 63012, 5 * SECOND),
    131048: GraphError("Spam rate limit hit", T, 63018, MINUTE),
    PAIR_RATE_LIMIT: GraphError("Pair rate limit hit", T, 63018, 6 * SECOND),
    131057: GraphError("Account in maintenance mode", T, 63012, MINUTE),
    133004: GraphError("Server temporarily unavailable", T, 63012, 5 * SECOND),
    # this message cannot go this way: fail the attempt, the fallback moves on
    33: GraphError("Parameter value is not valid (phone number deleted)", R, 63007),
    100: GraphError("Invalid parameter", R, 63021),
    368: GraphError("Temporarily blocked for policies violations", R, 63013),
    130472: GraphError("User's number is part of an experiment", R, 63032),
    130497: GraphError("Business account is restricted from messaging users here", R, 63013),
    131008: GraphError("Required parameter is missing", R, 63021),
    131009: GraphError("Parameter value is not valid", R, 63021),
    131021: GraphError("Recipient cannot be sender", R, 63003),
    UNDELIVERABLE: GraphError("Message undeliverable", R, 63024),
    131030: GraphError("Recipient phone number not in allowed list", R, 63024),
    131031: GraphError("Account has been locked", R, 63013),
    131042: GraphError("Business eligibility payment issue", R),
    131045: GraphError("Incorrect certificate", R, 63007),
    131047: GraphError("Re-engagement message (outside the 24-hour window)", R, 63016),
    131049: GraphError("Meta chose not to deliver (marketing message limits)", R, 63049),
    131050: GraphError("User stopped marketing messages", R),
    131051: GraphError("Unsupported message type", R, 63021),
    131052: GraphError("Media download error", R, 63019),
    131053: GraphError("Media upload error", R, 63019),
    132000: GraphError("Template parameter count mismatch", R, 63028),
    132001: GraphError("Template does not exist", R, 63027),
    132005: GraphError("Template hydrated text too long", R, 63021),
    132007: GraphError("Template format character policy violated", R, 63021),
    132012: GraphError("Template parameter format mismatch", R, 63028),
    132015: GraphError("Template is paused", R),
    132016: GraphError("Template is disabled", R),
    133010: GraphError("Phone number not registered", R, 63007),
}

# failed statuses that mean the recipient's side did not take it (the others: not sent)
_UNDELIVERED = frozenset({UNDELIVERABLE, 131049, 131050, 130472})
_TEMPLATES = range(132000, 133000)


def graph_error(code: int | None, http_status: int) -> GraphError:
    """What an error means: its row, else what its range or HTTP status says."""
    if code is not None and code in ERRORS:
        return ERRORS[code]
    if code is not None and code in _TEMPLATES:
        return GraphError("Template error", R)
    if http_status == 429:
        return GraphError("Too many requests", T, 63018, SECOND)
    if http_status >= 500:
        return GraphError("Server error", T, 63012, SECOND)
    if http_status in (401, 403) or (code is not None and 200 <= code <= 299):
        return GraphError("Not authorized", OP, 63001, OPERATOR_RETRY_MS)
    return GraphError("Error", R)


def receipt_status(code: int | None) -> str:
    """The status a `failed` webhook with this error gives the attempt."""
    return "UNDELIVERED" if code in _UNDELIVERED else "FAILED"
