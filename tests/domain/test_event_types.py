"""The events' type names and the JSON their `data` becomes (docs/events.md)."""

from __future__ import annotations

import msgspec
import pytest

from opencomms.domain.event_types import (
    EVENT_TYPES,
    MESSAGE_EVENT_TYPES,
    MESSAGE_INBOUND_RECEIVED,
    OPERATION_EVENT_TYPES,
    Address,
    InboundEventData,
    MessageEventData,
    OperationEventData,
    SenderOfAttempt,
    message_event_type,
    operation_event_type,
)
from opencomms.domain.statuses import MessageStatus

P = "com.twilio.comms-api."


def test_the_eleven_event_types() -> None:
    assert len(set(EVENT_TYPES)) == len(EVENT_TYPES) == 11
    assert set(OPERATION_EVENT_TYPES) == {
        P + "operation.scheduled",
        P + "operation.processing",
        P + "operation.completed",
    }
    assert set(MESSAGE_EVENT_TYPES) == {
        P + "message." + s
        for s in ("queued", "sent", "delivered", "read", "undelivered", "failed", "canceled")
    }
    assert MESSAGE_INBOUND_RECEIVED == P + "message.inbound-received"
    assert set(EVENT_TYPES) == {
        *OPERATION_EVENT_TYPES,
        *MESSAGE_EVENT_TYPES,
        MESSAGE_INBOUND_RECEIVED,
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("QUEUED", P + "message.queued"),
        ("UNDELIVERED", P + "message.undelivered"),
        (MessageStatus.CANCELED, P + "message.canceled"),
    ],
)
def test_a_status_change_names_its_event(status: str, expected: str) -> None:
    assert message_event_type(status) == expected


def test_every_message_status_but_scheduled_has_an_event_type() -> None:
    """A Message or attempt reaches these statuses; each change is a known type a sink can
    subscribe to (SCHEDULED is the operation's `operation.scheduled`)."""
    changes = {s for s in MessageStatus if s is not MessageStatus.SCHEDULED}
    assert {message_event_type(s) for s in changes} == set(MESSAGE_EVENT_TYPES)


def test_every_step_of_an_operation_has_an_event_type() -> None:
    steps = ("scheduled", "processing", "completed")
    assert tuple(operation_event_type(step) for step in steps) == OPERATION_EVENT_TYPES


def json_of(data: msgspec.Struct) -> object:
    return msgspec.json.decode(msgspec.json.encode(data))


def test_a_message_events_data_without_its_attempt() -> None:
    """A Message canceled before any attempt: the attempt's fields are absent, not null."""
    data = MessageEventData(
        operation_id="op", message_id="m", attempt_id=None, status="CANCELED",
        error_code=None, error_message=None, timestamp="2024-05-01T12:00:00.000Z",
    )  # fmt: skip
    assert json_of(data) == {
        "operation_id": "op",
        "message_id": "m",
        "attempt_id": None,
        "status": "CANCELED",
        "error_code": None,
        "error_message": None,
        "timestamp": "2024-05-01T12:00:00.000Z",
    }


def test_a_message_events_data_with_its_attempt_says_from_and_to() -> None:
    data = MessageEventData(
        operation_id="op", message_id="m", attempt_id="SM1", status="FAILED",
        error_code=30008, error_message="Unknown error", timestamp="t", attempt=2,
        channel="SMS", to=Address(address="+14155550100", channel="PHONE"),
        tags={"k": "v"},
        sender=SenderOfAttempt(id="comms_sender_1", address="+12065550100", channel="SMS"),
    )  # fmt: skip
    encoded = json_of(data)
    assert isinstance(encoded, dict)
    assert encoded["from"] == {"id": "comms_sender_1", "address": "+12065550100", "channel": "SMS"}
    assert encoded["to"] == {"address": "+14155550100", "channel": "PHONE"}
    assert (encoded["attempt"], encoded["channel"], encoded["tags"]) == (2, "SMS", {"k": "v"})
    assert (encoded["error_code"], encoded["error_message"]) == (30008, "Unknown error")
    assert "sender" not in encoded


def test_an_operation_events_data_has_stats_only_when_given() -> None:
    assert json_of(OperationEventData(operation_id="op")) == {"operation_id": "op"}
    completed = OperationEventData(operation_id="op", stats={"DELIVERED": 3})
    assert json_of(completed) == {"operation_id": "op", "stats": {"DELIVERED": 3}}


def test_an_inbound_events_data() -> None:
    assert json_of(InboundEventData(message_id="IN1", timestamp="t")) == {
        "message_id": "IN1",
        "timestamp": "t",
    }
    received = InboundEventData(
        message_id="IN1", timestamp="t", channel="SMS",
        to=Address(address="+12065550100", channel="SMS"), body="STOP", keyword=None,
        sender=Address(address="+14155550100", channel="SMS"),
    )  # fmt: skip
    assert json_of(received) == {
        "message_id": "IN1",
        "timestamp": "t",
        "channel": "SMS",
        "to": {"address": "+12065550100", "channel": "SMS"},
        "body": "STOP",
        "keyword": None,
        "from": {"address": "+14155550100", "channel": "SMS"},
    }
