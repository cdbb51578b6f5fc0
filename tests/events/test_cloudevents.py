"""CloudEvents envelopes and subscription patterns (which events a pattern selects is
the store's rule: tests/store/test_subscribed_types.py)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from opencomms.domain.clock import rfc3339
from opencomms.domain.event_types import (
    EVENT_TYPES,
    MESSAGE_QUEUED,
    OPERATION_COMPLETED,
    Address,
    MessageEventData,
    dataschema,
)
from opencomms.events.cloudevents import (
    encode_batch,
    envelope,
    message_source,
    operation_source,
    validate_type_pattern,
)

P = "com.twilio.comms-api."
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
# CloudEvents 1.0: attribute names are lower-case ASCII letters and digits.
ATTRIBUTE_NAME = re.compile(r"^[a-z0-9]{1,20}$")


SCHEMA = "https://events-schemas.twilio.com/CommsApi.MessageQueued/3"


def _message_data() -> MessageEventData:
    return MessageEventData(
        operation_id="comms_operation_01h2xcejqtf2nbrexx3vqjhp41",
        message_id="comms_message_01h2xcejqtf2nbrexx3vqjhp41",
        account_sid="AC" + "b" * 32,
        downstream_id="SM" + "a" * 32,
        attempt="1",
        sender=Address(id="comms_sender_x", address="+12065558844", channel="SMS"),
        to=Address(address="+14153901002", channel="PHONE"),
        tags={"campaign": "spring"},
    )


# --- Envelopes ------------------------------------------------------------------------------


def test_envelope_has_every_required_attribute() -> None:
    data = _message_data()
    event = envelope(
        "EV" + "1" * 32,
        MESSAGE_QUEUED,
        1_714_564_800_123,
        data,
        message_source(data.message_id),
        dataschema(MESSAGE_QUEUED),
    )
    assert event == {
        "specversion": "1.0",
        "type": P + "message.queued",
        "source": "/v1/Messages/comms_message_01h2xcejqtf2nbrexx3vqjhp41",
        "id": "EV" + "1" * 32,
        "time": "2024-05-01T12:00:00.123Z",
        "datacontenttype": "application/json",
        "dataschema": SCHEMA,
        "data": data,
    }
    for name in ("specversion", "id", "source", "type", "dataschema"):
        assert isinstance(event[name], str)
        assert event[name]
    assert all(ATTRIBUTE_NAME.match(name) for name in event)
    assert RFC3339_UTC.match(event["time"])
    parsed = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
    assert parsed.utcoffset() == timedelta(0)
    assert int(parsed.timestamp() * 1000) == 1_714_564_800_123


def test_envelope_copies_data_and_names_its_dataschema() -> None:
    data = {"operation_id": "comms_operation_x"}
    event = envelope(
        "EV1",
        OPERATION_COMPLETED,
        0,
        data,
        operation_source("comms_operation_x"),
        dataschema(OPERATION_COMPLETED),
    )
    assert event["source"] == "/v1/Messages/Operations/comms_operation_x"
    assert event["dataschema"] == "https://events-schemas.twilio.com/CommsApi.OperationCompleted/2"
    data["operation_id"] = "changed"
    assert event["data"] == {"operation_id": "comms_operation_x"}


def test_every_event_type_has_a_dataschema_uri() -> None:
    """Twilio's published schema for each of Twilio's types; a URN of ours for the one
    Twilio has not (message.canceled)."""
    for type_ in EVENT_TYPES:
        schema = dataschema(type_)
        assert schema.startswith(("https://events-schemas.twilio.com/CommsApi.", "urn:opencomms:"))
        assert re.search(r"/[0-9]+$", schema), schema


@pytest.mark.parametrize(
    ("event_id", "type_", "source"),
    [("", MESSAGE_QUEUED, "/s"), ("EV1", "", "/s"), ("EV1", MESSAGE_QUEUED, "")],
)
def test_envelope_refuses_empty_required_attributes(event_id: str, type_: str, source: str) -> None:
    with pytest.raises(ValueError):
        envelope(event_id, type_, 0, {}, source, SCHEMA)
    with pytest.raises(ValueError):
        envelope("EV1", MESSAGE_QUEUED, 0, {}, "/s", "")


@pytest.mark.parametrize(
    ("time_ms", "expected"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (999, "1970-01-01T00:00:00.999Z"),
        (1_000, "1970-01-01T00:00:01.000Z"),
        (1_714_564_800_123, "2024-05-01T12:00:00.123Z"),
        (1_709_251_199_999, "2024-02-29T23:59:59.999Z"),
        (4_102_444_800_000, "2100-01-01T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
    ],
)
def test_rfc3339(time_ms: int, expected: str) -> None:
    assert rfc3339(time_ms) == expected
    moment = datetime.fromisoformat(expected.replace("Z", "+00:00"))
    assert moment.tzinfo == UTC
    assert round(moment.timestamp() * 1000) == time_ms


# --- Batches ------------------------------------------------------------------------------


def test_encode_batch_round_trips() -> None:
    events = [
        envelope(
            f"EV{i:032x}", MESSAGE_QUEUED, 1_714_564_800_000 + i, _message_data(), "/s", SCHEMA
        )
        for i in range(3)
    ]
    events[1]["data"].tags = {"text": "Grüße 👋 مرحبا"}
    body = encode_batch(events)
    assert isinstance(body, bytes)
    assert json.loads(body) == [msgspec.to_builtins(event) for event in events]
    assert json.loads(body)[0]["data"]["from"] == {
        "id": "comms_sender_x", "address": "+12065558844", "channel": "SMS"
    }  # fmt: skip
    assert body.startswith(b"[{")
    assert b'", "' not in body
    assert b'": ' not in body  # compact
    assert "Grüße 👋 مرحبا".encode() in body  # UTF-8, not \\u escapes
    assert encode_batch([]) == b"[]"


def test_encode_batch_keeps_attribute_order() -> None:
    body = encode_batch([envelope("EV1", MESSAGE_QUEUED, 0, {"a": 1}, "/s", SCHEMA)])
    assert body == (
        b'[{"specversion":"1.0","type":"com.twilio.comms-api.message.queued","source":"/s",'
        b'"id":"EV1","time":"1970-01-01T00:00:00.000Z","datacontenttype":"application/json",'
        b'"dataschema":"https://events-schemas.twilio.com/CommsApi.MessageQueued/3",'
        b'"data":{"a":1}}]'
    )


# --- Subscription patterns ------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        *EVENT_TYPES,
        P + "message.*",
        P + "operation.*",
        P + "*",
        "com.twilio.*",
        "*",
        P + "message.q*",
        P + "message.queued*",
    ],
)
def test_valid_type_patterns(pattern: str) -> None:
    assert validate_type_pattern(pattern) is None


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("", "empty"),
        (P + "message.unknown", "not a known event type"),
        (P + "message.queued.extra", "not a known event type"),
        ("com.twilio.messaging.message.sent", "not a known event type"),
        (P + "message", "not a known event type"),
        (P + "conversation.*", "matches no event type"),
        (P + "message.queued.*", "matches no event type"),
        ("*" + "message.queued", "only allowed at the end"),
        (P + "*.queued", "only allowed at the end"),
        (P + "message.**", "only allowed at the end"),
    ],
)
def test_invalid_type_patterns(pattern: str, problem: str) -> None:
    text = validate_type_pattern(pattern)
    assert text is not None
    assert problem in text
