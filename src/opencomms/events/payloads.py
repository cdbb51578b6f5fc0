"""Outbox rows to CloudEvents: the `data` of each event, rendered when it is sent.

An event's id is derived from its outbox sequence number, so every retry (and a replay)
carries the same id without storing one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opencomms.domain.clock import rfc3339
from opencomms.domain.event_types import (
    MESSAGE_INBOUND_RECEIVED,
    OPERATION_COMPLETED,
    Address,
    InboundEventData,
    MessageEventData,
    OperationEventData,
    SenderOfAttempt,
)
from opencomms.events.cloudevents import envelope, message_source, operation_source
from opencomms.store.inbound_messages import InboundRecord
from opencomms.store.sinks import AttemptContext, PendingEvent

__all__ = ["event_id", "render"]


INBOUND_SOURCE = "/v1/InboundMessages"


def event_id(seq: int) -> str:
    return f"EV{seq:032x}"


def _message_data(
    event: PendingEvent, message_id: str, context: AttemptContext | None
) -> MessageEventData:
    data = MessageEventData(
        operation_id=event.operation_id,
        message_id=message_id,
        attempt_id=event.attempt_id,
        status=event.status,
        error_code=event.error_code,
        error_message=event.error_message,
        timestamp=rfc3339(event.created_at),
    )
    if context is not None:
        data.attempt = context.number
        data.channel = context.channel
        data.to = Address(address=context.to_address, channel=context.to_channel)
        data.tags = context.tags
        data.sender = SenderOfAttempt(
            id=context.sender_id, address=context.from_address, channel=context.channel
        )
    return data


def _inbound_data(
    message_id: str, created_at: int, record: InboundRecord | None
) -> InboundEventData:
    data = InboundEventData(message_id=message_id, timestamp=rfc3339(created_at))
    if record is not None:
        data.channel = record.channel
        data.to = Address(address=record.to_address, channel=record.channel)
        data.body = record.text
        data.keyword = record.keyword
        data.sender = Address(address=record.from_address, channel=record.channel)
    return data


def render(
    events: Sequence[PendingEvent],
    contexts: Mapping[str, AttemptContext],
    stats: Mapping[str, dict[str, int]],
    inbound: Mapping[str, InboundRecord],
) -> list[dict[str, Any]]:
    """One CloudEvents envelope per outbox row; `stats` of completed operations by id,
    `inbound` messages by id."""
    rendered = []
    for event in events:
        data: OperationEventData | MessageEventData | InboundEventData
        if event.type == MESSAGE_INBOUND_RECEIVED and event.message_id is not None:
            data = _inbound_data(event.message_id, event.created_at, inbound.get(event.message_id))
            source = INBOUND_SOURCE
        elif event.message_id is not None:
            context = contexts.get(event.attempt_id) if event.attempt_id else None
            data = _message_data(event, event.message_id, context)
            source = message_source(event.message_id)
        else:
            data = OperationEventData(operation_id=event.operation_id)
            if event.type == OPERATION_COMPLETED and event.operation_id in stats:
                data.stats = stats[event.operation_id]
            source = operation_source(event.operation_id)
        rendered.append(envelope(event_id(event.seq), event.type, event.created_at, data, source))
    return rendered
