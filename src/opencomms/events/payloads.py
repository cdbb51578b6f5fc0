"""Outbox rows to CloudEvents: the `data` of each event, rendered when it is sent.

An event's id is derived from its outbox sequence number, so every retry (and a replay)
carries the same id without storing one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opencomms.events.cloudevents import envelope, message_source, operation_source, rfc3339
from opencomms.store.events import INBOUND_RECEIVED
from opencomms.store.inbound_messages import InboundRecord
from opencomms.store.sinks import AttemptContext, PendingEvent

__all__ = ["event_id", "render"]


INBOUND_SOURCE = "/v1/InboundMessages"


def event_id(seq: int) -> str:
    return f"EV{seq:032x}"


def _message_data(event: PendingEvent, context: AttemptContext | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "operation_id": event.operation_id,
        "message_id": event.message_id,
        "attempt_id": event.attempt_id,
        "status": event.status,
        "error_code": event.error_code,
        "error_message": event.error_message,
        "timestamp": rfc3339(event.created_at),
    }
    if context is not None:
        data.update(
            attempt=context.number,
            channel=context.channel,
            to={"address": context.to_address, "channel": context.to_channel},
            tags=context.tags,
            **{
                "from": {
                    "id": context.sender_id,
                    "address": context.from_address,
                    "channel": context.channel,
                }
            },
        )
    return data


def _inbound_data(event: PendingEvent, record: InboundRecord | None) -> dict[str, Any]:
    data: dict[str, Any] = {"message_id": event.message_id, "timestamp": rfc3339(event.created_at)}
    if record is not None:
        data.update(
            channel=record.channel,
            to={"address": record.to_address, "channel": record.channel},
            body=record.text,
            keyword=record.keyword,
            **{"from": {"address": record.from_address, "channel": record.channel}},
        )
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
        if event.type == INBOUND_RECEIVED and event.message_id is not None:
            data = _inbound_data(event, inbound.get(event.message_id))
            source = INBOUND_SOURCE
        elif event.message_id is not None:
            context = contexts.get(event.attempt_id) if event.attempt_id else None
            data = _message_data(event, context)
            source = message_source(event.message_id)
        else:
            data = {"operation_id": event.operation_id}
            if event.type.endswith(".completed") and event.operation_id in stats:
                data["stats"] = stats[event.operation_id]
            source = operation_source(event.operation_id)
        rendered.append(envelope(event_id(event.seq), event.type, event.created_at, data, source))
    return rendered
