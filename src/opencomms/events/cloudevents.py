"""CloudEvents 1.0 envelopes for opencomms events, and subscription type patterns.

A webhook body is a JSON array of envelopes (EVENTS.md, "Delivery"):
`{"specversion": "1.0", "type", "source", "id", "time", "datacontenttype":
"application/json", "dataschema"?, "data"}`. `time` is RFC 3339 in UTC with
milliseconds, as every date-time of the API.

`data` is built by the caller, in snake_case as Twilio's payloads are:

- operation events: `{"operation_id"}`, plus `"stats"` for `operation.completed`;
- message events (`message.queued` … `message.canceled`), one per status change
  of each attempt: `operation_id`, `message_id`, `attempt_id` (the `SM…`/`MM…` id),
  `attempt` (1-based number of the attempt within the Message), `channel`,
  `from {id, address, channel}`, `to {address, channel}`, `status`,
  `error_code` (int or null), `error_message` (str or null), `tags` (object),
  `timestamp` (RFC 3339, see `rfc3339`). `MessageEventData` spells this out.

Suggested `source`: `/v1/Messages/Operations/{operation_id}` for operation
events and `/v1/Messages/{message_id}` for message events (`operation_source`,
`message_source`), the resource the event is about.

Event ids must not change across retries (receivers deduplicate on them): the
delivery worker derives each id from the event's place in the outbox
(`events.payloads.event_id`), so every retry and replay carries the same one.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import msgspec

from opencomms.domain.clock import rfc3339

__all__ = [
    "EVENT_TYPES",
    "MESSAGE_CANCELED",
    "MESSAGE_DELIVERED",
    "MESSAGE_EVENT_TYPES",
    "MESSAGE_FAILED",
    "MESSAGE_INBOUND_RECEIVED",
    "MESSAGE_QUEUED",
    "MESSAGE_READ",
    "MESSAGE_SENT",
    "MESSAGE_UNDELIVERED",
    "OPERATION_COMPLETED",
    "OPERATION_EVENT_TYPES",
    "OPERATION_PROCESSING",
    "OPERATION_SCHEDULED",
    "TYPE_PREFIX",
    "MessageEventData",
    "MessageFrom",
    "MessageTo",
    "OperationEventData",
    "encode_batch",
    "envelope",
    "message_event_type",
    "message_source",
    "new_event_id",
    "operation_source",
    "rfc3339",
    "type_matches",
    "validate_type_pattern",
]

TYPE_PREFIX = "com.twilio.comms-api."

OPERATION_SCHEDULED = "com.twilio.comms-api.operation.scheduled"
OPERATION_PROCESSING = "com.twilio.comms-api.operation.processing"
OPERATION_COMPLETED = "com.twilio.comms-api.operation.completed"

MESSAGE_QUEUED = "com.twilio.comms-api.message.queued"
MESSAGE_SENT = "com.twilio.comms-api.message.sent"
MESSAGE_DELIVERED = "com.twilio.comms-api.message.delivered"
MESSAGE_READ = "com.twilio.comms-api.message.read"
MESSAGE_UNDELIVERED = "com.twilio.comms-api.message.undelivered"
MESSAGE_FAILED = "com.twilio.comms-api.message.failed"
MESSAGE_CANCELED = "com.twilio.comms-api.message.canceled"
MESSAGE_INBOUND_RECEIVED = "com.twilio.comms-api.message.inbound-received"

OPERATION_EVENT_TYPES: tuple[str, ...] = (
    OPERATION_SCHEDULED,
    OPERATION_PROCESSING,
    OPERATION_COMPLETED,
)
# Status changes of outbound attempts; inbound-received is not one of them.
MESSAGE_EVENT_TYPES: tuple[str, ...] = (
    MESSAGE_QUEUED,
    MESSAGE_SENT,
    MESSAGE_DELIVERED,
    MESSAGE_READ,
    MESSAGE_UNDELIVERED,
    MESSAGE_FAILED,
    MESSAGE_CANCELED,
)
EVENT_TYPES: tuple[str, ...] = (
    *OPERATION_EVENT_TYPES,
    *MESSAGE_EVENT_TYPES,
    MESSAGE_INBOUND_RECEIVED,
)

_BY_STATUS = {t.rsplit(".", 1)[1].upper(): t for t in MESSAGE_EVENT_TYPES}


class MessageFrom(TypedDict):
    id: str
    address: str
    channel: str


class MessageTo(TypedDict):
    address: str
    channel: str


class OperationEventData(TypedDict, total=False):
    operation_id: str
    stats: dict[str, int]


# Functional form because `from` is a keyword.
MessageEventData = TypedDict(
    "MessageEventData",
    {
        "operation_id": str,
        "message_id": str,
        "attempt_id": str,
        "attempt": int,
        "channel": str,
        "from": MessageFrom,
        "to": MessageTo,
        "status": str,
        "error_code": int | None,
        "error_message": str | None,
        "tags": dict[str, str],
        "timestamp": str,
    },
)


def message_event_type(status: str) -> str:
    """The event type of a message status change: `QUEUED` → `…message.queued`.

    ValueError for a status without an event (SCHEDULED: the operation's
    `operation.scheduled` event covers it) or an unknown one.
    """
    try:
        return _BY_STATUS[status.upper()]
    except KeyError:
        raise ValueError(f"no message event for status {status!r}") from None


def envelope(
    event_id: str,
    type: str,
    time_ms: int,
    data: Mapping[str, Any],
    source: str,
    *,
    dataschema: str | None = None,
) -> dict[str, Any]:
    """A CloudEvents 1.0 envelope (structured JSON mode) for one event.

    `time_ms` is when the event happened, in milliseconds since the epoch.
    `dataschema` is left out unless given: our `data` is not exactly Twilio's,
    so pointing at Twilio's schema URLs would be wrong.
    """
    if not event_id:
        raise ValueError("a CloudEvent needs an id")
    if not source:
        raise ValueError("a CloudEvent needs a source")
    if not type:
        raise ValueError("a CloudEvent needs a type")
    event: dict[str, Any] = {
        "specversion": "1.0",
        "type": type,
        "source": source,
        "id": event_id,
        "time": rfc3339(time_ms),
        "datacontenttype": "application/json",
    }
    if dataschema is not None:
        event["dataschema"] = dataschema
    event["data"] = dict(data)
    return event


def encode_batch(envelopes: Sequence[Mapping[str, Any]]) -> bytes:
    """The body of one delivery: a compact JSON array, UTF-8, non-ASCII unescaped."""
    return msgspec.json.encode(list(envelopes))


def new_event_id() -> str:
    """A fresh event id: `EV` and 32 hex digits."""
    return "EV" + secrets.token_hex(16)


def operation_source(operation_id: str) -> str:
    return f"/v1/Messages/Operations/{operation_id}"


def message_source(message_id: str) -> str:
    return f"/v1/Messages/{message_id}"


def type_matches(pattern: str, type: str) -> bool:
    """Whether a subscription pattern selects an event type.

    A pattern is an exact type, or a prefix ending in `*`
    (`com.twilio.comms-api.message.*`); a `*` anywhere else is literal.
    """
    if pattern.endswith("*"):
        return type.startswith(pattern[:-1])
    return pattern == type


def validate_type_pattern(pattern: str) -> str | None:
    """None for a usable subscription pattern, else what is wrong with it.

    Usable: a known type, or a prefix of at least one known type followed by `*`,
    so that a subscription always selects something.
    """
    if not pattern:
        return "an event type must not be empty"
    if pattern in EVENT_TYPES:
        return None
    prefix, star, rest = pattern.partition("*")
    if star and not rest:
        if any(t.startswith(prefix) for t in EVENT_TYPES):
            return None
        return f"{pattern!r} matches no event type; known types start with {TYPE_PREFIX!r}"
    if star:
        return f"{pattern!r}: '*' is only allowed at the end"
    return (
        f"{pattern!r} is not a known event type; use one of {', '.join(EVENT_TYPES)}, "
        "or a prefix of them followed by '*'"
    )
