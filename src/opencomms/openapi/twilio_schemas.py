"""JSON Schemas (draft 2020-12) of the answers given in Twilio's own shapes (snake_case,
`sid`s, lists with a `meta` of page URLs): Content templates (`/v1/Content`, api/content.py)
and the Event Streams API (`/events/v1`, api/event_sinks.py, api/event_subscriptions.py).
As in schemas.py, a resource has exactly these fields."""

from __future__ import annotations

from typing import Any

from opencomms.api.event_sinks import STATUSES as SINK_STATUSES
from opencomms.domain.event_types import EVENT_TYPES
from opencomms.openapi.schemas import DATE, INTEGER, STRING, array, nullable, ref, resource

__all__ = ["TWILIO_SCHEMAS"]

TWILIO_DATE: dict[str, Any] = {**DATE, "description": "Whole seconds: 2025-01-31T12:00:00Z"}
META = resource(
    {
        "page": INTEGER,
        "page_size": INTEGER,
        "first_page_url": STRING,
        "previous_page_url": {"type": "null"},
        "url": STRING,
        "next_page_url": nullable(STRING),
        "key": STRING,
    },
    description="Twilio's paging: `next_page_url` carries the next `PageToken`.",
)


def twilio_page(key: str, item: str) -> dict[str, Any]:
    """A list in Twilio's shape (api/twilio_form.py's twilio_list)."""
    return resource(
        {key: array(ref(item)), "meta": ref("TwilioMeta")}, description=f"A page of {item}s."
    )


CONTENT = resource(
    {
        "sid": STRING,
        "account_sid": STRING,
        "friendly_name": nullable(STRING),
        "language": STRING,
        "variables": {"type": "object", "additionalProperties": STRING},
        "types": {
            "type": "object",
            "additionalProperties": {"type": "object"},
            "description": "Content types by name (twilio/text, twilio/card, …), as given.",
        },
        "url": STRING,
        "links": resource({}),
        "date_created": TWILIO_DATE,
        "date_updated": TWILIO_DATE,
    },
    description="A content template (Twilio's Content API).",
)
EVENT_SINK = resource(
    {
        "date_created": TWILIO_DATE,
        "date_updated": TWILIO_DATE,
        "description": STRING,
        "sid": STRING,
        "sink_configuration": resource(
            {
                "destination": STRING,
                "method": {"const": "POST"},
                "batch_events": {"type": "boolean"},
            }
        ),
        "sink_type": {"const": "webhook"},
        "status": {"type": "string", "enum": sorted(set(SINK_STATUSES.values()))},
        "url": STRING,
        "links": resource({"sink_test": STRING, "sink_validate": STRING}),
        "opencomms": resource(
            {"kind": {"type": "string", "enum": ["callback", "webhook"]}},
            {"secret": STRING},
            "What Twilio's resource has no field for; `secret` only in the create's answer.",
        ),
    },
    description="Twilio's Sink resource.",
)
SINK_TEST = resource(
    {
        "result": {"const": "submitted"},
        "opencomms": resource(
            {"test_id": STRING, "status_code": nullable(INTEGER), "error": nullable(STRING)},
            description="How the receiver answered the test event (status_code null: no answer).",
        ),
    }
)
EVENT_SUBSCRIPTION = resource(
    {
        "account_sid": STRING,
        "sid": STRING,
        "date_created": TWILIO_DATE,
        "date_updated": TWILIO_DATE,
        "description": STRING,
        "sink_sid": STRING,
        "url": STRING,
        "links": resource({"subscribed_events": STRING}),
    },
    description="Twilio's Subscription resource.",
)
SUBSCRIBED_EVENT = resource(
    {
        "account_sid": STRING,
        "type": {"type": "string", "enum": list(EVENT_TYPES)},
        "schema_version": INTEGER,
        "subscription_sid": STRING,
        "url": STRING,
    },
    description="One event type of a subscription, at the schema version served.",
)

TWILIO_SCHEMAS: dict[str, dict[str, Any]] = {
    "TwilioMeta": META,
    "Content": CONTENT,
    "ContentList": twilio_page("contents", "Content"),
    "EventSink": EVENT_SINK,
    "EventSinkList": twilio_page("sinks", "EventSink"),
    "EventSinkTest": SINK_TEST,
    "EventSinkValidation": resource({"result": {"const": "valid"}}),
    "EventSubscription": EVENT_SUBSCRIPTION,
    "EventSubscriptionList": twilio_page("subscriptions", "EventSubscription"),
    "SubscribedEvent": SUBSCRIBED_EVENT,
    "SubscribedEventList": twilio_page("types", "SubscribedEvent"),
}
