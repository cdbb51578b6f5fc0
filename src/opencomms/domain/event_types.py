"""The events opencomms emits (docs/events.md): their type names and the vocabulary of
their `data`, in snake_case as Twilio's payloads are.

The store writes an event's type into the outbox with the change that causes it; the
delivery worker renders its `data` as one of the structs below when it sends it, and
wraps it in a CloudEvents envelope (events/cloudevents.py).
"""

from __future__ import annotations

from typing import Literal

import msgspec

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
    "Address",
    "InboundEventData",
    "MessageEventData",
    "OperationEventData",
    "OperationStep",
    "SenderOfAttempt",
    "message_event_type",
    "operation_event_type",
]

TYPE_PREFIX = "com.twilio.comms-api."
_OPERATION = TYPE_PREFIX + "operation."
_MESSAGE = TYPE_PREFIX + "message."

OperationStep = Literal["scheduled", "processing", "completed"]


def operation_event_type(step: OperationStep) -> str:
    """`processing` → `com.twilio.comms-api.operation.processing`."""
    return _OPERATION + step


def message_event_type(status: str) -> str:
    """The event of a Message's or an attempt's change to `status` (a MessageStatus):
    `QUEUED` → `com.twilio.comms-api.message.queued`."""
    return _MESSAGE + status.lower()


OPERATION_SCHEDULED = operation_event_type("scheduled")
OPERATION_PROCESSING = operation_event_type("processing")
OPERATION_COMPLETED = operation_event_type("completed")

MESSAGE_QUEUED = message_event_type("QUEUED")
MESSAGE_SENT = message_event_type("SENT")
MESSAGE_DELIVERED = message_event_type("DELIVERED")
MESSAGE_READ = message_event_type("READ")
MESSAGE_UNDELIVERED = message_event_type("UNDELIVERED")
MESSAGE_FAILED = message_event_type("FAILED")
MESSAGE_CANCELED = message_event_type("CANCELED")
MESSAGE_INBOUND_RECEIVED = _MESSAGE + "inbound-received"

OPERATION_EVENT_TYPES: tuple[str, ...] = (
    OPERATION_SCHEDULED,
    OPERATION_PROCESSING,
    OPERATION_COMPLETED,
)
# Status changes of outbound Messages and attempts; inbound-received is not one of them
# (a SCHEDULED Message has none: its operation's `operation.scheduled` covers it).
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


class Address(msgspec.Struct, kw_only=True):
    """`to` of a message event; `to` and `from` of an inbound one."""

    address: str
    channel: str


class SenderOfAttempt(msgspec.Struct, kw_only=True):
    """`from` of a message event: the sender the attempt went out on."""

    id: str
    address: str
    channel: str


class OperationEventData(msgspec.Struct, kw_only=True):
    """`operation.*`: `stats` (counts by status) only on `operation.completed`."""

    operation_id: str
    stats: dict[str, int] | msgspec.UnsetType = msgspec.UNSET


class MessageEventData(msgspec.Struct, kw_only=True):
    """`message.<status>`, one per status change of a Message or of each attempt. The
    attempt's details are left out when the event has no attempt (a Message canceled or
    failed before any was made) or when it is no longer stored."""

    operation_id: str
    message_id: str
    attempt_id: str | None  # the `SM…`/`MM…` id
    status: str | None
    error_code: int | None
    error_message: str | None
    timestamp: str  # RFC 3339, UTC, milliseconds (domain/clock.rfc3339)
    attempt: int | msgspec.UnsetType = msgspec.UNSET  # 1-based, within the Message
    channel: str | msgspec.UnsetType = msgspec.UNSET
    to: Address | msgspec.UnsetType = msgspec.UNSET
    tags: dict[str, str] | msgspec.UnsetType = msgspec.UNSET
    sender: SenderOfAttempt | msgspec.UnsetType = msgspec.field(default=msgspec.UNSET, name="from")


class InboundEventData(msgspec.Struct, kw_only=True):
    """`message.inbound-received`; the message's details are left out once it is no
    longer stored."""

    message_id: str
    timestamp: str
    channel: str | msgspec.UnsetType = msgspec.UNSET
    to: Address | msgspec.UnsetType = msgspec.UNSET
    body: str | msgspec.UnsetType = msgspec.UNSET
    keyword: str | msgspec.UnsetType | None = msgspec.UNSET
    sender: Address | msgspec.UnsetType = msgspec.field(default=msgspec.UNSET, name="from")
