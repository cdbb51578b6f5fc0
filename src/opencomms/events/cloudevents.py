"""CloudEvents 1.0 envelopes for opencomms events, and subscription type patterns.

A webhook body is a JSON array of envelopes (EVENTS.md, "Delivery"):
`{"specversion": "1.0", "type", "source", "id", "time", "datacontenttype":
"application/json", "dataschema", "data"}`; `dataschema` names the published
schema of `data` (domain/event_types.DATASCHEMAS). `time` is RFC 3339 in UTC with
milliseconds, as every date-time of the API.

The types and the `data` of each are the domain's (domain/event_types.py).

Suggested `source`: `/v1/Messages/Operations/{operation_id}` for operation
events and `/v1/Messages/{message_id}` for message events (`operation_source`,
`message_source`), the resource the event is about.

Event ids must not change across retries (receivers deduplicate on them): the
delivery worker derives each id from the event's place in the outbox
(`events.payloads.event_id`), so every retry and replay carries the same one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import msgspec

from opencomms.domain.clock import rfc3339
from opencomms.domain.event_types import EVENT_TYPES, TYPE_PREFIX

__all__ = [
    "encode_batch",
    "encode_event",
    "envelope",
    "message_source",
    "operation_source",
    "validate_type_pattern",
]

# the events of one transaction share their time: each is formatted once (4 % of delivery)
_event_time = lru_cache(maxsize=4096)(rfc3339)


def envelope(
    event_id: str,
    type: str,
    time_ms: int,
    data: msgspec.Struct | Mapping[str, Any],
    source: str,
    dataschema: str,
) -> dict[str, Any]:
    """A CloudEvents 1.0 envelope (structured JSON mode) for one event.

    `time_ms` is when the event happened, in milliseconds since the epoch; `data` one of
    domain/event_types.py's structs (a mapping is copied); `dataschema` the URI of the
    schema `data` follows.
    """
    if not event_id:
        raise ValueError("a CloudEvent needs an id")
    if not source:
        raise ValueError("a CloudEvent needs a source")
    if not type:
        raise ValueError("a CloudEvent needs a type")
    if not dataschema:
        raise ValueError("a CloudEvent of ours names its dataschema")
    event: dict[str, Any] = {
        "specversion": "1.0",
        "type": type,
        "source": source,
        "id": event_id,
        "time": _event_time(time_ms),
        "datacontenttype": "application/json",
        "dataschema": dataschema,
    }
    event["data"] = data if isinstance(data, msgspec.Struct) else dict(data)
    return event


def encode_batch(envelopes: Sequence[Mapping[str, Any]]) -> bytes:
    """The body of one delivery: a compact JSON array, UTF-8, non-ASCII unescaped."""
    return msgspec.json.encode(list(envelopes))


def encode_event(envelope: Mapping[str, Any]) -> bytes:
    """The body of a delivery to a sink that does not batch: one CloudEvent object."""
    return msgspec.json.encode(envelope)


def operation_source(operation_id: str) -> str:
    return f"/v1/Messages/Operations/{operation_id}"


def message_source(message_id: str) -> str:
    return f"/v1/Messages/{message_id}"


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
