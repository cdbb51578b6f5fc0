"""Outbox rows to CloudEvents: the `data` of each event, rendered when it is sent.

An event's id is derived from its outbox sequence number, so every retry (and a replay)
carries the same id without storing one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opencomms.domain.event_types import (
    MESSAGE_INBOUND_RECEIVED,
    Address,
    InboundEventData,
    InboundExtras,
    MessageEventData,
    MessageExtras,
    OperationEventData,
    dataschema,
)
from opencomms.events.cloudevents import envelope, message_source, operation_source
from opencomms.store.inbound_messages import InboundRecord
from opencomms.store.sinks import AttemptContext, PendingEvent

__all__ = ["event_id", "render"]


INBOUND_SOURCE = "/v1/InboundMessages"


def event_id(seq: int) -> str:
    return f"EV{seq:032x}"


def _message_data(
    event: PendingEvent, message_id: str, account_sid: str, context: AttemptContext | None
) -> MessageEventData:
    data = MessageEventData(
        operation_id=event.operation_id, message_id=message_id, account_sid=account_sid
    )
    if event.attempt_id is not None:
        data.downstream_id = event.attempt_id
    if event.error_code is not None:
        data.error_code = str(event.error_code)
    if event.error_message is not None:
        data.opencomms = MessageExtras(error_message=event.error_message)
    if context is not None:
        data.attempt = str(context.number)
        data.sender = Address(
            id=context.sender_id, address=context.from_address, channel=context.channel
        )
        data.to = Address(address=context.to_address, channel=context.to_channel)
        data.tags = context.tags
    return data


def _inbound_data(message_id: str, record: InboundRecord | None) -> InboundEventData:
    data = InboundEventData(message_id=message_id)
    if record is not None:
        data.to = Address(address=record.to_address, channel=record.channel)
        data.opencomms = InboundExtras(
            sender=Address(address=record.from_address, channel=record.channel),
            body=record.text,
            keyword=record.keyword,
        )
    return data


def render(
    events: Sequence[PendingEvent],
    contexts: Mapping[str, AttemptContext],
    inbound: Mapping[str, InboundRecord],
    account_sid: str,
) -> list[dict[str, Any]]:
    """One CloudEvents envelope per outbox row (all of `account_sid`); `contexts`: the
    attempts by id, `inbound`: the inbound messages by id."""
    rendered = []
    for event in events:
        data: OperationEventData | MessageEventData | InboundEventData
        if event.type == MESSAGE_INBOUND_RECEIVED and event.message_id is not None:
            data = _inbound_data(event.message_id, inbound.get(event.message_id))
            source = INBOUND_SOURCE
        elif event.message_id is not None:
            context = contexts.get(event.attempt_id) if event.attempt_id else None
            data = _message_data(event, event.message_id, account_sid, context)
            source = message_source(event.message_id)
        else:
            data = OperationEventData(operation_id=event.operation_id)
            source = operation_source(event.operation_id)
        rendered.append(
            envelope(
                event_id(event.seq),
                event.type,
                event.created_at,
                data,
                source,
                dataschema(event.type),
            )
        )
    return rendered
