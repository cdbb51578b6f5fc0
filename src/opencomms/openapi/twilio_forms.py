"""JSON Schemas of the form bodies of Twilio's Event Streams API (`/events/v1`,
api/event_sinks.py and api/event_subscriptions.py): each call's parameters, those it
requires, and nothing else (`form_body` refuses a parameter a call does not take). A
parameter Twilio repeats for a list (`Types`) is an array of strings."""

from __future__ import annotations

from typing import Any

from opencomms.api.event_sinks import CONFIGURATION
from opencomms.api.sinks import MAX_DESCRIPTION
from opencomms.openapi.requests import closed
from opencomms.openapi.schemas import STRING

__all__ = ["FORMS", "FORM_SCHEMAS"]

DESCRIPTION: dict[str, Any] = {"type": "string", "maxLength": MAX_DESCRIPTION}
SINK_CONFIGURATION: dict[str, Any] = {
    "type": "string",
    "contentMediaType": "application/json",
    "description": 'A JSON object: {"destination": URL, "method": "POST", "batch_events":'
    " true|false}; the destination is checked as every sink's URL is.",
}
TYPES: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "string",
        "contentMediaType": "application/json",
        "description": 'A JSON object {"type": an event type, "schema_version"?: 1}.',
    },
}
SCHEMA_VERSION: dict[str, Any] = {"type": "string", "description": "The version served: 1."}


FORM_SCHEMAS: dict[str, dict[str, Any]] = {
    "EventSinkCreateForm": closed(
        {
            "Description": DESCRIPTION,
            "SinkType": {"type": "string", "enum": ["webhook"]},
            CONFIGURATION: SINK_CONFIGURATION,
        },
        ("Description", "SinkType", CONFIGURATION),
    ),
    "EventSinkUpdateForm": closed({"Description": DESCRIPTION}, ("Description",)),
    "EventSinkTestForm": closed({}),
    "EventSinkValidateForm": closed({"TestId": STRING}, ("TestId",)),
    "EventSubscriptionCreateForm": closed(
        {"Description": DESCRIPTION, "SinkSid": STRING, "Types": TYPES},
        ("Description", "SinkSid", "Types"),
    ),
    "EventSubscriptionUpdateForm": closed({"Description": DESCRIPTION}, ("Description",)),
    "SubscribedEventCreateForm": closed(
        {"Type": STRING, "SchemaVersion": SCHEMA_VERSION}, ("Type",)
    ),
    "SubscribedEventUpdateForm": closed({"SchemaVersion": SCHEMA_VERSION}),
}

# (method, path under /events/v1) -> the form it takes
FORMS: dict[tuple[str, str], str] = {
    ("post", "/Sinks"): "EventSinkCreateForm",
    ("post", "/Sinks/{sid}"): "EventSinkUpdateForm",
    ("post", "/Sinks/{sid}/Test"): "EventSinkTestForm",
    ("post", "/Sinks/{sid}/Validate"): "EventSinkValidateForm",
    ("post", "/Subscriptions"): "EventSubscriptionCreateForm",
    ("post", "/Subscriptions/{sid}"): "EventSubscriptionUpdateForm",
    ("post", "/Subscriptions/{sid}/SubscribedEvents"): "SubscribedEventCreateForm",
    ("post", "/Subscriptions/{sid}/SubscribedEvents/{event_type}"): "SubscribedEventUpdateForm",
}
