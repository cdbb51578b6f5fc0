"""The events opencomms emits (docs/events.md): their type names and the vocabulary of
their `data`, with the field names and types of Twilio's published schemas
(events-schemas.twilio.com/CommsApi.*; docs/decisions.md, "Event payloads"). What
Twilio's schemas have no field for goes under one key of ours, `opencomms`.

The store writes an event's type into the outbox with the change that causes it; the
delivery worker renders its `data` as one of the structs below when it sends it, and
wraps it in a CloudEvents envelope (events/cloudevents.py).
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = [
    "DATASCHEMAS",
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
    "InboundExtras",
    "MessageEventData",
    "MessageExtras",
    "OperationEventData",
    "OperationStep",
    "dataschema",
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


SCHEMA_PREFIX = "https://events-schemas.twilio.com/CommsApi."
# Twilio's published schema (name/version) of each type's `data`; canceled is ours
# (Twilio has no such event) and says so with a URN of its own (docs/decisions.md).
DATASCHEMAS: dict[str, str] = {
    OPERATION_SCHEDULED: SCHEMA_PREFIX + "OperationScheduled/2",
    OPERATION_PROCESSING: SCHEMA_PREFIX + "OperationProcessing/2",
    OPERATION_COMPLETED: SCHEMA_PREFIX + "OperationCompleted/2",
    MESSAGE_QUEUED: SCHEMA_PREFIX + "MessageQueued/3",
    MESSAGE_SENT: SCHEMA_PREFIX + "MessageSent/4",
    MESSAGE_DELIVERED: SCHEMA_PREFIX + "MessageDelivered/4",
    MESSAGE_READ: SCHEMA_PREFIX + "MessageRead/4",
    MESSAGE_UNDELIVERED: SCHEMA_PREFIX + "MessageUndelivered/4",
    MESSAGE_FAILED: SCHEMA_PREFIX + "MessageFailed/4",
    MESSAGE_CANCELED: "urn:opencomms:schema:CommsApi.MessageCanceled/1",
    MESSAGE_INBOUND_RECEIVED: SCHEMA_PREFIX + "MessageInbound/2",
}


def dataschema(event_type: str) -> str:
    """The `dataschema` of an event of this (known) type."""
    return DATASCHEMAS[event_type]


class Address(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`from` and `to` of a message event: `{id?, address, channel}`; `id` is the
    sender's (`comms_sender_…`) on `from`, absent on `to` (no contacts here)."""

    address: str
    channel: str
    id: str | msgspec.UnsetType = msgspec.UNSET


class OperationEventData(msgspec.Struct, kw_only=True):
    """`operation.*`: Twilio's schemas allow `operation_id` and nothing else."""

    operation_id: str


class MessageExtras(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`data.opencomms` of a message event: what Twilio's schema has no field for."""

    error_message: str | None = None


class MessageEventData(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`message.<status>`, one per status change of a Message or of each attempt, in
    Twilio's field names and types (`attempt` and `error_code` are strings there). The
    attempt's fields are left out when the event has no attempt (a Message canceled or
    failed before any was made) or when it is no longer stored."""

    operation_id: str
    message_id: str
    account_sid: str
    downstream_id: str | msgspec.UnsetType = msgspec.UNSET  # the attempt's `SM…`/`MM…` id
    attempt: str | msgspec.UnsetType = msgspec.UNSET  # 1-based, within the Message
    error_code: str | msgspec.UnsetType = msgspec.UNSET
    sender: Address | msgspec.UnsetType = msgspec.field(default=msgspec.UNSET, name="from")
    to: Address | msgspec.UnsetType = msgspec.UNSET
    tags: dict[str, str] | msgspec.UnsetType = msgspec.UNSET
    opencomms: MessageExtras | msgspec.UnsetType = msgspec.UNSET


class InboundExtras(msgspec.Struct, kw_only=True):
    """`data.opencomms` of an inbound event: the reply itself."""

    sender: Address = msgspec.field(name="from")
    body: str
    keyword: str | None


class InboundEventData(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`message.inbound-received`: Twilio's fields (`message_id`, `to`: the sender
    written to) and ours under `opencomms`; left out once the message is not stored."""

    message_id: str
    to: Address | msgspec.UnsetType = msgspec.UNSET
    opencomms: InboundExtras | msgspec.UnsetType = msgspec.UNSET
