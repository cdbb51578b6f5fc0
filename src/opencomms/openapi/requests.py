"""JSON Schemas (draft 2020-12) of the JSON request bodies of `/v1` (and `/preview`), as
the handlers read them: their fields, bounds, enums and patterns are the parsers' own
constants and the operator's `[input]` limits. They are never stricter than the code: a
field the code refuses when unknown makes the object closed, a null it takes as absent
is allowed, an address has its channel's form; what a schema cannot say (a template that
compiles, where a URL points, what exists) is in a `description`, and the server answers
a 400 naming the field."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from opencomms.api import content_request as content
from opencomms.api import send_request as send
from opencomms.api.message_list import MESSAGE_FILTERS
from opencomms.api.paging import PAGING_PARAMETERS
from opencomms.api.sender_pools import MAX_SENDERS
from opencomms.api.sender_search import MAX_ADDRESSES as MAX_RESOLVED_ADDRESSES
from opencomms.api.senders import STATUSES as SENDER_STATUSES
from opencomms.api.sinks import MAX_DESCRIPTION
from opencomms.domain.addresses import E164, EMAIL, WHATSAPP_PREFIX
from opencomms.domain.channels import RecipientChannel, SenderChannel
from opencomms.domain.content_templates import VARIABLE_KEY
from opencomms.domain.ids import (
    CONTENT_SID_RE,
    OPERATION_ID_RE,
    SENDER_ID_RE,
    SENDER_POOL_ID_RE,
    SINK_ID_RE,
)
from opencomms.domain.sender_addresses import CONTROL, FORMS
from opencomms.domain.statuses import MessageStatus
from opencomms.domain.storable import MAX_TAG_CHARS
from opencomms.openapi.schemas import ref
from opencomms.settings import InputSettings

__all__ = ["REQUESTS", "request_schemas"]

# The schema of each operation's JSON body, by method and path (under /v1 and /preview);
# an operation with a body method missing here reads no body (a Cancel).
REQUESTS: dict[tuple[str, str], str] = {
    ("post", "/Messages"): "SendRequest",
    ("post", "/Messages/Search"): "MessageSearchRequest",
    ("post", "/Senders"): "SenderCreateRequest",
    ("post", "/Senders/{sender_id}"): "SenderUpdateRequest",
    ("patch", "/Senders/{sender_id}"): "SenderUpdateRequest",
    ("post", "/Senders/Search"): "SenderSearchRequest",
    ("post", "/Senders/Resolve"): "SenderResolveRequest",
    ("post", "/SenderPools"): "SenderPoolRequest",
    ("post", "/SenderPools/{pool_id}"): "SenderPoolRequest",
    ("patch", "/SenderPools/{pool_id}"): "SenderPoolRequest",
    ("post", "/SenderPools/{pool_id}/Senders"): "SenderPoolAddRequest",
    ("post", "/ApiKeys"): "ApiKeyRequest",
    ("post", "/OptOuts"): "OptOutRequest",
    ("post", "/Content"): "ContentRequest",
    ("post", "/Sinks"): "SinkRequest",
    ("post", "/Sinks/{sink_id}/Replay"): "SinkReplayRequest",
    ("post", "/Subscriptions"): "SubscriptionRequest",
}
STRING: dict[str, Any] = {"type": "string"}
NULL: dict[str, Any] = {"type": "null"}
# an unknown field that is null is taken as absent (Content, a Message search)
NULLS_ONLY: dict[str, Any] = {"type": "null", "description": "An unknown field may only be null."}
# The end of the string, as the code's `\Z`: in Python (and the generators of test cases
# built on it) `$` alone also matches before a final newline; in ECMA-262 it never does.
END = r"$(?!\n)"
TAG_TEXT = "^[a-zA-Z0-9._~-]+" + END
# text without a control character (domain/sender_addresses.py's CONTROL)
NO_CONTROL = "^[^" + CONTROL.pattern[1:-1] + "]*" + END
# the control characters a recipient's address may not hold (send_request.py's _UNSAFE)
UNSAFE_IN_ADDRESS = r"\x00-\x1f\x7f"
DURATION = {
    "type": "string",
    "pattern": r"^\s*[0-9]{1,15}(\.[0-9]{1,15})?\s*(ms|s|m|h|d)\s*" + END,
    "description": "A duration up to 30d, such as '500ms', '60s', '5m', '72h'.",
}
DATE_TIME = {"type": "string", "format": "date-time"}


def pattern(regex: re.Pattern[str]) -> dict[str, Any]:
    """A string matching the code's `regex` (anchored at the start, `\\Z` at the end)."""
    text = regex.pattern.replace(r"\Z", END)
    return {"type": "string", "pattern": text if text.startswith("^") else "^" + text}


def whole(*regexes: re.Pattern[str]) -> dict[str, Any]:
    """A string the whole of which matches one of `regexes` (the code's `fullmatch`)."""
    either = "|".join(regex.pattern for regex in regexes)
    return {"type": "string", "pattern": f"^(?:{either})" + END}


def words(values: Any) -> dict[str, Any]:
    """One of `values` in any case, as the code reads them (`value.upper()`)."""
    names = sorted(str(value) for value in values)
    either = "|".join(
        "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in name)
        for name in names
    )
    return {
        "type": "string",
        "pattern": f"^(?:{either})" + END,
        "examples": names,
        "description": f"One of {', '.join(names)}, in any case.",
    }


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, NULL]}


def closed(
    properties: dict[str, Any], required: tuple[str, ...] = (), **more: Any
) -> dict[str, Any]:
    """An object of these fields only (the code refuses any other by name)."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        **more,
    }
    if required:
        schema["required"] = list(required)
    return schema


def text(most: int, least: int = 0, description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "maxLength": most}
    if least:
        schema["minLength"] = least
    if description:
        schema["description"] = description
    return schema


def url(limits: InputSettings, description: str = "") -> dict[str, Any]:
    return {
        "type": "string",
        "maxLength": limits.max_url_chars,
        "pattern": send.URL_PATTERN.pattern.replace(r"\Z", END),
        "description": description or "An http(s) URL.",
    }


def email(control: str = "", most: int = 254) -> dict[str, Any]:
    """An email address as domain/addresses.py checks it, without the `control`
    characters (a range of a character class) where the caller refuses them too."""
    text = EMAIL.pattern.replace(r"[^@\s]", r"[^@\s" + control + "]").replace(r"\Z", END)
    return {
        "type": "string",
        "pattern": text,
        "maxLength": most,
        "description": "An email address.",
    }


def _whatsapp() -> dict[str, Any]:
    return {
        "type": "string",
        "pattern": f"^(?:{re.escape(WHATSAPP_PREFIX)})?" + pattern(E164)["pattern"][1:],
        "description": f"A phone number in E.164 form; a `{WHATSAPP_PREFIX}` prefix is taken.",
    }


def _recipient_forms(limits: InputSettings) -> dict[str, dict[str, Any]]:
    """A recipient's address on each channel, as domain/addresses.py checks it (the API
    also refuses a control character in it)."""
    most = {"maxLength": limits.max_address_chars}
    phone = pattern(E164) | most | {"description": "A phone number in E.164 form."}
    whatsapp = _whatsapp() | most
    return {
        RecipientChannel.PHONE: phone,
        RecipientChannel.WHATSAPP: whatsapp,
        RecipientChannel.EMAIL: email(UNSAFE_IN_ADDRESS, min(254, limits.max_address_chars)),
    }


def _recipient(limits: InputSettings) -> dict[str, Any]:
    """One address and channel (the address's form is the channel's), or several."""
    forms = [
        {"address": address, "channel": words([channel])}
        for channel, address in _recipient_forms(limits).items()
    ]
    variables = nullable(ref("SendVariables"))
    required = ("address", "channel")
    several = closed(
        {
            "addresses": {
                "type": "array",
                "minItems": 1,
                "maxItems": send.MAX_ADDRESSES,
                "items": {"anyOf": [closed(form, required) for form in forms]},
            },
            "variables": variables,
        },
        ("addresses",),
        description="One recipient on several addresses, tried in order.",
    )
    singles = [closed({**form, "variables": variables}, required) for form in forms]
    return {"anyOf": [*singles, several]}


def _variables(limits: InputSettings) -> dict[str, Any]:
    return {
        "type": "object",
        "maxProperties": send.MAX_VARIABLES,
        "propertyNames": {"maxLength": limits.max_name_chars},
        "additionalProperties": {
            "anyOf": [text(limits.max_variable_chars), {"type": "number"}],
            "description": "A number is taken as its text.",
        },
        "description": "The values of the content's placeholders for this recipient.",
    }


def _inline_content(limits: InputSettings) -> dict[str, Any]:
    modules = {
        "type": "array",
        "minItems": 1,
        "maxItems": len(send.MODULE_CHANNELS),
        "items": {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "propertyNames": words(send.MODULE_CHANNELS),
            "additionalProperties": {"type": "object"},
        },
        "description": "Channel modules (`{rcs: …}`, `{whatsapp: …}`, `{sms: …}`, `{email: …}`),"
        " each channel once: their strings at most 10,000 characters and valid Liquid, "
        f"at most {send.MAX_MODULE_DEPTH} levels deep, {limits.max_fields} fields an object,"
        f" {limits.max_module_items} items an array, {limits.max_module_chars} characters"
        " as JSON.",
    }
    media = {
        "type": "array",
        "maxItems": send.MAX_MEDIA,
        "items": closed({"url": url(limits)}, ("url",)),
    }
    given = {"text": {"type": "string", "minLength": 1}}
    return closed(
        {
            "text": nullable(text(send.MAX_TEXT, description="May be a Liquid template.")),
            "media": nullable(media),
            "modules": nullable(modules),
        },
        anyOf=[
            {"required": ["text"], "properties": given},
            {"required": ["media"], "properties": {"media": {"minItems": 1}}},
            {"required": ["modules"], "properties": {"modules": {"type": "array"}}},
        ],
    )


def _sender(limits: InputSettings) -> dict[str, Any]:
    """`from`: one of its three forms."""
    return {
        "anyOf": [
            closed(
                {
                    "address": text(limits.max_address_chars, 1, "No whitespace or control."),
                    "channel": words(SenderChannel),
                },
                ("address", "channel"),
            ),
            closed({"senderId": pattern(SENDER_ID_RE)}, ("senderId",)),
            closed({"senderPoolId": pattern(SENDER_POOL_ID_RE)}, ("senderPoolId",)),
        ]
    }


def _schedule(limits: InputSettings) -> dict[str, Any]:
    send_at = {
        "type": "string",
        "description": "An RFC 3339 date-time with a zone, or without one: each recipient's"
        f" local time; at most {limits.max_send_at_years} years ahead.",
    }
    return closed(
        {"sendAt": {"anyOf": [send_at, {"type": "array", "minItems": 1, "items": send_at}]}},
        ("sendAt",),
        description="When to send: the latest of the date-times given (all with a zone, or none).",
    )


def _send(limits: InputSettings) -> dict[str, Any]:
    template = closed(
        {"contentId": pattern(CONTENT_SID_RE), "variables": nullable(ref("SendVariables"))},
        ("contentId",),
        description="A content template (`/v1/Content`) and its placeholders' values.",
    )
    tags = {
        "type": "object",
        "maxProperties": send.MAX_TAGS,
        "propertyNames": {"pattern": TAG_TEXT, "maxLength": limits.max_name_chars},
        "additionalProperties": text(
            MAX_TAG_CHARS, 1, "[a-zA-Z0-9._~-], or a Liquid template rendered per recipient."
        ),
    }
    recipients = {
        "type": "array",
        "minItems": 1,
        "maxItems": send.MAX_RECIPIENTS,
        "items": ref("SendRecipient"),
    }
    return closed(
        {
            "to": recipients,
            "content": {"anyOf": [ref("SendContent"), template]},
            "from": nullable(_sender(limits)),
            "schedule": nullable(_schedule(limits)),
            "callbacks": nullable(closed({"url": url(limits)}, ("url",))),
            "tags": nullable(tags),
        },
        ("to", "content"),
        description="A send (`POST /v1/Messages`); every problem is listed in the 400.",
    )


def _message_search() -> dict[str, Any]:
    filters: dict[str, Any] = {name: nullable(STRING) for name in MESSAGE_FILTERS}
    filters["operationId"] = filters["operation_id"] = nullable(pattern(OPERATION_ID_RE))
    filters["status"] = nullable(words(MessageStatus))
    filters["channel"] = nullable(words(SenderChannel))
    filters["startDate"] = filters["endDate"] = nullable(DATE_TIME)
    filters["address"] = nullable(text(320, 1))
    filters["tags"] = {
        "anyOf": [STRING, NULL, {"type": "object", "additionalProperties": STRING}],
        "description": "`k:v;k2:v2` or an object of strings: at most 10 pairs.",
    }
    paging: dict[str, Any] = dict.fromkeys(sorted(PAGING_PARAMETERS), False)
    return {
        "type": "object",
        "properties": {**filters, **paging},
        "additionalProperties": NULLS_ONLY,
        "description": "The filters of a Message list; paging goes in the query.",
    }


def _senders(connectors: Collection[str]) -> dict[str, dict[str, Any]]:
    tags = {
        "type": "object",
        "maxProperties": 10,
        "propertyNames": {"pattern": TAG_TEXT, "maxLength": 128},
        "additionalProperties": text(256, 1) | {"pattern": TAG_TEXT},
    }
    mutable = {
        "status": words(SENDER_STATUSES),
        "tags": tags,
        "connector": {
            "type": "string",
            **({"enum": sorted(connectors)} if connectors else {}),
            "description": "A connector configured on this server that carries the channel.",
        },
        "fallbackTimeout": DURATION,
        "receiptWait": DURATION,
        "displayName": nullable(text(256, 1) | {"pattern": NO_CONTROL}),
    }
    forms = {channel: whole(*regexes) for channel, regexes in FORMS.items()}
    forms[SenderChannel.EMAIL] = email(CONTROL.pattern[1:-1])
    search: dict[str, Any] = {"address": STRING, "channel": words(SenderChannel)}
    search |= {name: {"type": "string"} for name in sorted(PAGING_PARAMETERS)}
    return {
        "SenderCreateRequest": {
            "anyOf": [
                closed(
                    {"address": form, "channel": words([channel]), **mutable},
                    ("address", "channel"),
                )
                for channel, form in sorted(forms.items())
            ],
            "description": "The address's form is its channel's; no control character.",
        },
        "SenderUpdateRequest": closed(mutable),
        "SenderSearchRequest": closed(search, description="Filters; paging may be here too."),
        "SenderResolveRequest": _resolve(),
        "SenderTags": tags,
    }


def _resolve() -> dict[str, Any]:
    address = {
        "type": "object",
        "properties": {
            "address": {"type": "string", "minLength": 1},
            "channel": words(RecipientChannel),
        },
        "required": ["address", "channel"],
    }
    priority = {
        "type": "object",
        "properties": {"channel": words(SenderChannel), "priority": {"type": "integer"}},
        "required": ["channel", "priority"],
    }
    channels = closed(
        {
            "filterIn": nullable({"type": "array", "items": words(SenderChannel)}),
            "priority": nullable({"type": "array", "items": priority}),
        }
    )
    return closed(
        {
            "senderPoolId": nullable(pattern(SENDER_POOL_ID_RE)),
            "recipientAddresses": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_RESOLVED_ADDRESSES,
                "items": address,
            },
            "channels": nullable(channels),
        },
        ("recipientAddresses",),
    )


def _pools() -> dict[str, dict[str, Any]]:
    member = {
        "anyOf": [STRING, closed({"senderId": STRING}, ("senderId",))],
        "description": "A sender of the account: its id, or `{senderId}` as Twilio sends it.",
    }
    members = {"type": "array", "maxItems": MAX_SENDERS, "items": member}
    return {
        "SenderPoolRequest": closed(
            {
                "name": text(256, 1) | {"pattern": NO_CONTROL},
                "senders": members,
                "tags": ref("SenderTags"),
                "default": {"type": "boolean"},
            }
        ),
        "SenderPoolAddRequest": {
            "anyOf": [members, closed({"senders": members}, ("senders",))],
            "description": "Twilio's JSON array of senders, or `{senders: [...]}`.",
        },
    }


def _given(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object of these fields, any other only null (Content drops nulls first)."""
    schema = {"type": "object", "properties": properties, "additionalProperties": NULLS_ONLY}
    return schema | ({"required": list(required)} if required else {})


def _link(limits: InputSettings) -> dict[str, Any]:
    return text(limits.max_url_chars, description="An http(s) URL; may hold {{placeholders}}.")


def _card(limits: InputSettings) -> dict[str, Any]:
    """`twilio/card`, its actions (buttons) included."""
    action = _given(
        {
            "type": words(content.ACTION_TYPES),
            "title": text(content.MAX_ACTION_TITLE, 1),
            "id": nullable(text(content.MAX_ACTION_ID, 1)),
            "url": nullable(_link(limits)),
            "phone": nullable({"type": "string", "description": "E.164; may hold a placeholder."}),
        },
        ("type", "title"),
    )
    card = _given(
        {
            "title": nullable(text(content.MAX_TITLE, 1)),
            "subtitle": nullable(text(content.MAX_SUBTITLE, 1)),
            "body": nullable(text(content.MAX_TEXT, 1)),
            "media": nullable(
                {"type": "array", "minItems": 1, "maxItems": 1, "items": _link(limits)}
            ),
            "actions": nullable(
                {"type": "array", "maxItems": content.MAX_ACTIONS, "items": action}
            ),
        }
    )
    return card | {"description": "Must have a title or a body."}


def _content_types(limits: InputSettings) -> dict[str, Any]:
    media = {"type": "array", "minItems": 1, "maxItems": content.MAX_MEDIA, "items": _link(limits)}
    whatsapp = {
        "name": pattern(content.WHATSAPP_NAME),
        "language": nullable(pattern(content.LANGUAGE)),
    }
    types = {
        "twilio/text": nullable(_given({"body": text(content.MAX_TEXT, 1)}, ("body",))),
        "twilio/media": nullable(
            _given({"body": nullable(text(content.MAX_TEXT, 1)), "media": media}, ("media",))
        ),
        "twilio/card": nullable(_card(limits)),
        "whatsapp/template": nullable(_given(whatsapp, ("name",))),
    }
    return _given(types) | {"description": f"At least one of {', '.join(content.SUPPORTED)}."}


def _content(limits: InputSettings) -> dict[str, Any]:
    variables = {
        "type": "object",
        "maxProperties": content.MAX_VARIABLES,
        "propertyNames": pattern(VARIABLE_KEY),
        "additionalProperties": text(limits.max_variable_chars),
    }
    return _given(
        {
            "friendly_name": nullable(text(content.MAX_FRIENDLY_NAME, 1)),
            "language": pattern(content.LANGUAGE),
            "variables": nullable(variables),
            "types": _content_types(limits),
        },
        ("language", "types"),
    )


def _sinks(limits: InputSettings) -> dict[str, dict[str, Any]]:
    where = "An http(s) URL the server may reach (not a private address, unless allowed)."
    return {
        "SinkRequest": closed(
            {"url": url(limits, where), "description": text(MAX_DESCRIPTION)}, ("url",)
        ),
        "SinkReplayRequest": closed(
            {"startDate": DATE_TIME, "endDate": nullable(DATE_TIME)},
            ("startDate",),
            description="Events created in [startDate, endDate); endDate: now.",
        ),
        "SubscriptionRequest": closed(
            {
                "sinkId": pattern(SINK_ID_RE),
                "types": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "string", "description": "An event type, or `prefix*`."},
                },
            },
            ("sinkId", "types"),
        ),
    }


def request_schemas(
    limits: InputSettings, connectors: Collection[str] = ()
) -> dict[str, dict[str, Any]]:
    """Every request body's schema (and those they share), by component name; a
    sender's `connector` is one of `connectors` (the server's) when they are given."""
    return {
        "SendRequest": _send(limits),
        "SendRecipient": _recipient(limits),
        "SendVariables": _variables(limits),
        "SendContent": _inline_content(limits),
        "MessageSearchRequest": _message_search(),
        **_senders(connectors),
        **_pools(),
        "ApiKeyRequest": closed({"friendlyName": text(256) | {"pattern": NO_CONTROL}}),
        "OptOutRequest": closed(
            {
                "address": {
                    "anyOf": [email(), _whatsapp()],
                    "description": "A phone number in E.164 form or an email address.",
                },
                "channel": nullable(words(SenderChannel)),
            },
            ("address",),
        ),
        "ContentRequest": _content(limits),
        **_sinks(limits),
    }
