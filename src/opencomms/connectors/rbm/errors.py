"""RBM's answers to a send, and its webhook events: what each means for an attempt.

An answer's HTTP status (Google's canonical error status in its body) becomes one of
the engine's closed vocabulary: ACCEPTED, THROTTLED (back off, send the same attempt
again: nothing failed), or REJECTED with a Twilio error code, so the fallback moves on
(docs/rbm.md has the table). RBM's own status and message are kept in the error message.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from opencomms.connectors.base import Receipt, SubmitOutcome
from opencomms.domain.errors import RCS_NOT_ENABLED, UNKNOWN, UNREACHABLE

__all__ = [
    "ANSWERS",
    "CONTENT_REFUSED",
    "EVENTS",
    "NETWORK",
    "Answer",
    "answer_for",
    "error_message",
    "receipt_for",
]

ACCEPTED, REJECTED, THROTTLED = SubmitOutcome

# Twilio's "Channel did not accept given content": RBM's 400 INVALID_ARGUMENT
CONTENT_REFUSED = 63005


class Answer(NamedTuple):
    name: str  # Google's canonical status for the HTTP status
    outcome: SubmitOutcome
    code: int | None = None  # the error code a REJECTED attempt fails with


# HTTP status of phones.agentMessages.create -> what becomes of the attempt
ANSWERS: dict[int, Answer] = {
    200: Answer("OK", ACCEPTED),
    400: Answer("INVALID_ARGUMENT", REJECTED, CONTENT_REFUSED),  # content the phone cannot show
    401: Answer("UNAUTHENTICATED", THROTTLED),  # after one token refresh and retry
    403: Answer("PERMISSION_DENIED", REJECTED, RCS_NOT_ENABLED.code),  # agent not launched there
    404: Answer("NOT_FOUND", REJECTED, RCS_NOT_ENABLED.code),  # not RCS-capable, not reachable
    409: Answer("ALREADY_EXISTS", ACCEPTED),  # the messageId was sent before: it is ignored
    429: Answer("RESOURCE_EXHAUSTED", THROTTLED),
    500: Answer("INTERNAL", THROTTLED),
    502: Answer("BAD_GATEWAY", THROTTLED),
    503: Answer("UNAVAILABLE", THROTTLED),
    504: Answer("DEADLINE_EXCEEDED", THROTTLED),
}
NETWORK = "network"  # no answer: connection refused or reset, timeout; THROTTLED
OTHER_CLIENT_ERROR = Answer("", REJECTED, UNKNOWN.code)  # any other 4xx
OTHER_SERVER_ERROR = Answer("", THROTTLED)  # any other 5xx

# UserEvent / ServerEvent eventType -> the receipt's status and error; the others
# (IS_TYPING, TTL_EXPIRATION_REVOKE_FAILED: a DELIVERED may still come…) are ignored
EVENTS: dict[str, tuple[str, int | None]] = {
    "DELIVERED": ("DELIVERED", None),
    "READ": ("READ", None),
    "TTL_EXPIRATION_REVOKED": ("UNDELIVERED", UNREACHABLE.code),  # expired, taken back
}


def answer_for(status: int) -> Answer:
    """What an HTTP status means for the attempt."""
    if status in ANSWERS:
        return ANSWERS[status]
    return OTHER_SERVER_ERROR if status >= 500 else OTHER_CLIENT_ERROR


def error_message(status: int, body: Any) -> str:
    """`RBM 404 NOT_FOUND: Requested entity was not found.` from Google's error body
    (`{"error": {"code", "message", "status"}}`), or from the status alone."""
    error = body.get("error") if isinstance(body, dict) else None
    name, message = answer_for(status).name, ""
    if isinstance(error, dict):
        if isinstance(error.get("status"), str):
            name = error["status"]
        if isinstance(error.get("message"), str):
            message = error["message"][:500]
    head = f"RBM {status} {name}".rstrip()
    return f"{head}: {message}" if message else head


def receipt_for(event_type: str, message_id: str) -> Receipt | None:
    """The receipt an event on the agent message `message_id` gives, if any."""
    mapped = EVENTS.get(event_type)
    if mapped is None:
        return None
    status, code = mapped
    why = f"RBM {event_type}" if code is not None else None
    return Receipt(status, provider_message_id=message_id, error_code=code, error_message=why)
