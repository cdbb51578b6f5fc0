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
    InboundExtras,
    MessageEventData,
    MessageExtras,
    OperationEventData,
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
    data = MessageEventData(operation_id="op", message_id="m", account_sid="AC1")
    assert json_of(data) == {"operation_id": "op", "message_id": "m", "account_sid": "AC1"}


def test_a_message_events_data_in_twilios_names_and_types() -> None:
    """`downstream_id` (the attempt's SM id), `attempt` and `error_code` as strings,
    `from`/`to` objects; the error's text under our own key."""
    data = MessageEventData(
        operation_id="op", message_id="m", account_sid="AC1", downstream_id="SM1",
        attempt="2", error_code="30008",
        sender=Address(id="comms_sender_1", address="+12065550100", channel="SMS"),
        to=Address(address="+14155550100", channel="PHONE"), tags={"k": "v"},
        opencomms=MessageExtras(error_message="Unknown error"),
    )  # fmt: skip
    assert json_of(data) == {
        "operation_id": "op",
        "message_id": "m",
        "account_sid": "AC1",
        "downstream_id": "SM1",
        "attempt": "2",
        "error_code": "30008",
        "from": {"id": "comms_sender_1", "address": "+12065550100", "channel": "SMS"},
        "to": {"address": "+14155550100", "channel": "PHONE"},
        "tags": {"k": "v"},
        "opencomms": {"error_message": "Unknown error"},
    }


def test_an_operation_events_data_is_its_id_only() -> None:
    """Twilio's operation schemas: `operation_id`, additionalProperties false."""
    assert json_of(OperationEventData(operation_id="op")) == {"operation_id": "op"}


def test_an_inbound_events_data() -> None:
    assert json_of(InboundEventData(message_id="IN1")) == {"message_id": "IN1"}
    received = InboundEventData(
        message_id="IN1", to=Address(address="+12065550100", channel="SMS"),
        opencomms=InboundExtras(
            sender=Address(address="+14155550100", channel="SMS"), body="STOP", keyword=None
        ),
    )  # fmt: skip
    assert json_of(received) == {
        "message_id": "IN1",
        "to": {"address": "+12065550100", "channel": "SMS"},
        "opencomms": {
            "from": {"address": "+14155550100", "channel": "SMS"},
            "body": "STOP",
            "keyword": None,
        },
    }
