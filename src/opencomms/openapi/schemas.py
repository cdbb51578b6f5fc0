"""JSON Schemas (draft 2020-12) of the successful answers of `/v1` (and `/preview`), as
api/wire.py and the handlers build them. A resource lists every field it may answer,
`required` for those always there, and no other (`additionalProperties: false`): a field
added to an answer and not here fails tests/api/test_openapi_answers.py. Enums are the code's."""

from __future__ import annotations

from typing import Any

from opencomms.api.sender_search import MAX_RESULTS
from opencomms.api.senders import STATUSES as SENDER_STATUSES
from opencomms.domain.channels import RecipientChannel, SenderChannel
from opencomms.domain.statuses import MessageStatus, OperationStatus
from opencomms.store.records import STAT_COLUMNS

__all__ = [
    "DATE",
    "INTEGER",
    "STRING",
    "V1_SCHEMAS",
    "array",
    "nullable",
    "ref",
    "resource",
]

STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer"}
BOOLEAN: dict[str, Any] = {"type": "boolean"}
DATE: dict[str, Any] = {"type": "string", "format": "date-time"}
TAGS: dict[str, Any] = {"type": "object", "additionalProperties": STRING}


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def enum(values: Any) -> dict[str, Any]:
    """A string of one of `values` (an enum class or any iterable of strings)."""
    return {"type": "string", "enum": sorted(str(value) for value in values)}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` or null (a `$ref` as `anyOf`; an enum takes null among its values)."""
    if "type" not in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    made = {**schema, "type": [schema["type"], "null"]}
    if "enum" in schema:
        made["enum"] = [*schema["enum"], None]
    return made


def resource(
    required: dict[str, Any], optional: dict[str, Any] | None = None, description: str = ""
) -> dict[str, Any]:
    """An object of exactly these fields: `required` always there, `optional` sometimes."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def page(key: str, item: str) -> dict[str, Any]:
    """A `/v1` list page (api/paging.py's page_envelope)."""
    return resource(
        {key: array(ref(item)), "pagination": ref("Pagination")},
        description=f"A page of {item}s: `pagination.next` is the next page's `pageToken`.",
    )


SENDER_CHANNEL = enum(SenderChannel)
RECIPIENT_CHANNEL = enum(RecipientChannel)
ENCODING = nullable(enum(("GSM-7", "UCS-2")))  # domain/segments.py's Encoding
ERROR_DETAIL = resource(
    {"code": INTEGER, "message": STRING, "infoUrl": STRING},
    description="An error inside a resource (a delivery error code: docs/errors.md).",
)
OPERATION = resource(
    {
        "id": STRING,
        "status": enum(OperationStatus),
        "stats": resource({column: INTEGER for column in STAT_COLUMNS}),
        "createdAt": DATE,
        "updatedAt": DATE,
    }
)
MESSAGE_FROM = resource(
    {"address": STRING, "channel": SENDER_CHANNEL, "senderId": STRING},
    {"senderPoolId": STRING},
)
MESSAGE_FIELDS: dict[str, Any] = {
    "id": STRING,
    "from": nullable(ref("MessageFrom")),
    "to": array(
        resource({"address": STRING, "channel": RECIPIENT_CHANNEL, "contactId": {"type": "null"}})
    ),
    "status": enum(MessageStatus),
    "related": array(resource({"name": {"const": "operation"}, "id": STRING, "uri": STRING})),
    "tags": TAGS,
    "scheduledFor": nullable(DATE),
    "createdAt": DATE,
    "updatedAt": DATE,
    "deletedAt": {"type": "null"},
    "segments": nullable(INTEGER),
    "encoding": ENCODING,
    "error": nullable(ref("ErrorDetail")),
}
ATTEMPT = resource(
    {
        "id": STRING,
        "attempt": INTEGER,
        "from": resource({"address": STRING, "channel": SENDER_CHANNEL, "senderId": STRING}),
        "to": array(resource({"address": STRING, "channel": RECIPIENT_CHANNEL})),
        "status": enum(MessageStatus),
        "attemptedAt": DATE,
        "updatedAt": DATE,
    },
    {"segments": INTEGER, "encoding": ENCODING, "error": ref("ErrorDetail")},
    "One try of a Message through one sender (SMS attempts show segments and encoding).",
)
MESSAGE_WITH_ATTEMPTS = resource(
    {
        **MESSAGE_FIELDS,
        "content": {"type": "object", "description": "The content as sent (the send's)."},
        "attempts": array(ref("Attempt")),
    }
)
OPERATION_ERROR = resource(
    {
        "code": INTEGER,
        "message": STRING,
        "infoUrl": STRING,
        "count": INTEGER,
        "samples": array(
            resource(
                {
                    "messageId": nullable(STRING),
                    "recipientIndex": nullable(INTEGER),
                    "to": array(resource({"address": STRING, "channel": STRING})),
                    "message": STRING,
                }
            )
        ),
    },
    description="An operation's failures with one code: their count and up to 3 samples.",
)
ACCEPTED = resource(
    {"operationId": STRING, "operationLocation": STRING},
    description="202: the operation to poll (also in the Operation-Location header).",
)

SENDER = resource(
    {
        "id": STRING,
        "displayName": nullable(STRING),
        "address": STRING,
        "channel": SENDER_CHANNEL,
        "connector": STRING,
        "status": enum(SENDER_STATUSES),
        "fallbackTimeout": {**STRING, "description": "A duration: 500ms, 60s, 5m, 72h"},
        "receiptWait": {**STRING, "description": "A duration: 500ms, 60s, 5m, 72h"},
        "tags": TAGS,
        "createdAt": DATE,
        "updatedAt": DATE,
    }
)
POOL_FIELDS: dict[str, Any] = {
    "id": STRING,
    "name": STRING,
    "senders": {**array(STRING), "description": "Sender ids, in fallback order."},
    "default": BOOLEAN,
    "tags": TAGS,
    "createdAt": DATE,
    "updatedAt": DATE,
}
POOL_OPERATION = resource(
    {
        "id": STRING,
        "status": STRING,
        "stats": resource(
            {"total": INTEGER, "queued": INTEGER, "created": INTEGER, "failed": INTEGER}
        ),
        "createdAt": DATE,
        "updatedAt": DATE,
    },
    description="The record of a pool create or add of senders (COMPLETED when answered).",
)
RESOLVED = resource(
    {
        "results": {
            **array(
                resource(
                    {
                        "from": resource(
                            {
                                "senderId": STRING,
                                "displayName": nullable(STRING),
                                "channel": SENDER_CHANNEL,
                                "address": STRING,
                            }
                        ),
                        "to": resource({"address": STRING, "channel": RECIPIENT_CHANNEL}),
                        "priority": INTEGER,
                    }
                )
            ),
            "maxItems": MAX_RESULTS,
        }
    }
)
API_KEY_FIELDS: dict[str, Any] = {
    "sid": STRING,
    "friendlyName": STRING,
    "accountSid": STRING,
    "createdAt": DATE,
}
OPT_OUT = resource(
    {
        "id": STRING,
        "address": STRING,
        "channel": nullable(SENDER_CHANNEL),
        "source": enum(("API", "KEYWORD")),
        "createdAt": DATE,
    },
    description="A suppression list entry; a null channel covers every channel.",
)
SINK_FIELDS: dict[str, Any] = {
    "id": STRING,
    "kind": enum(("webhook", "callback")),
    "url": STRING,
    "description": STRING,
    "status": enum(("ACTIVE", "DISABLED")),
    "createdAt": DATE,
    "updatedAt": DATE,
}
DELIVERIES = resource(
    {
        "deliveries": array(
            resource(
                {
                    "attemptedAt": DATE,
                    "events": INTEGER,
                    "firstEventId": STRING,
                    "lastEventId": STRING,
                    "outcome": enum(("DELIVERED", "FAILED", "ABANDONED", "DISABLED")),
                    "responseCode": nullable(INTEGER),
                    "error": nullable(STRING),
                    "durationMs": INTEGER,
                    "nextAttemptAt": nullable(DATE),
                }
            )
        ),
        "status": enum(("ACTIVE", "DISABLED")),
        "nextAttemptAt": nullable(DATE),
    },
    description="A sink's most recent delivery attempts (up to 100).",
)

V1_SCHEMAS: dict[str, dict[str, Any]] = {
    "Pagination": resource({"next": nullable(STRING), "self": STRING}),
    "ErrorDetail": ERROR_DETAIL,
    "Health": resource(
        {"status": enum(("ok", "unavailable")), "database": enum(("ok", "unavailable"))}
    ),
    "Accepted": ACCEPTED,
    "Operation": OPERATION,
    "OperationList": page("operations", "Operation"),
    "OperationError": OPERATION_ERROR,
    "OperationErrorList": page("errors", "OperationError"),
    "MessageFrom": MESSAGE_FROM,
    "Message": resource(MESSAGE_FIELDS),
    "MessageWithAttempts": MESSAGE_WITH_ATTEMPTS,
    "MessageList": page("messages", "Message"),
    "Attempt": ATTEMPT,
    "Sender": SENDER,
    "SenderList": page("senders", "Sender"),
    "SenderResolution": RESOLVED,
    "SenderPool": resource(POOL_FIELDS),
    "SenderPoolList": page("senderPools", "SenderPool"),
    "SenderPoolAccepted": resource(
        {**POOL_FIELDS, **ACCEPTED["properties"]},
        description="202: the pool, with its (completed) SenderPool Operation to poll.",
    ),
    "SenderPoolOperation": POOL_OPERATION,
    "SenderPoolOperationList": page("operations", "SenderPoolOperation"),
    "ApiKey": resource(API_KEY_FIELDS),
    "ApiKeyCreated": resource(
        {**API_KEY_FIELDS, "secret": STRING}, description="The secret is shown here only."
    ),
    "ApiKeyList": resource({"keys": array(ref("ApiKey"))}),
    "Account": resource(
        {"sid": STRING, "friendlyName": STRING, "webhookSecret": STRING, "createdAt": DATE}
    ),
    "OptOut": OPT_OUT,
    "OptOutList": page("optOuts", "OptOut"),
    "Sink": resource(SINK_FIELDS),
    "SinkCreated": resource(
        {**SINK_FIELDS, "secret": STRING},
        description="The Standard Webhooks secret is shown here only.",
    ),
    "SinkList": page("sinks", "Sink"),
    "SinkDeliveries": DELIVERIES,
    "SinkReplay": resource({"sinkId": STRING, "startDate": DATE, "endDate": DATE}),
    "Subscription": resource(
        {"id": STRING, "sinkId": STRING, "types": array(STRING), "createdAt": DATE}
    ),
    "SubscriptionList": page("subscriptions", "Subscription"),
}
