"""The Cloud API's send endpoint as the peer checks it: Graph error bodies, and a message
body validated against the documented schema (written from Meta's public reference).

Every refusal is a `GraphError`, rendered as Graph renders errors:
`{"error": {"message", "type", "code", "error_data": {"messaging_product", "details"},
"fbtrace_id"}}` with the HTTP status of Meta's error-code table.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ERRORS", "GraphError", "Outgoing", "Template", "invalid", "validate"]

# code: (HTTP status, title, details), from Meta's "WhatsApp error codes" page
ERRORS: dict[int, tuple[int, str, str]] = {
    100: (400, "Invalid parameter", "The request included one or more unsupported or misspelled parameters."),  # noqa: E501
    190: (401, "Access token has expired", "Invalid OAuth access token - Cannot parse access token"),  # noqa: E501
    130429: (400, "Rate limit hit", "Cloud API message throughput has been reached."),
    131000: (500, "Something went wrong", "Message failed to send due to an unknown error."),
    131026: (400, "Message undeliverable", "Message Undeliverable."),
    131047: (400, "Re-engagement message", "Message failed to send because more than 24 hours have passed since the customer last replied to this number."),  # noqa: E501
    131049: (400, "This message was not delivered to maintain healthy ecosystem engagement.", "In order to maintain a healthy ecosystem engagement, the message failed to be delivered."),  # noqa: E501
    131056: (400, "(Business Account, Consumer Account) pair rate limit hit", "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time."),  # noqa: E501
    132000: (400, "Number of parameters does not match the expected number of params", "The number of variable parameter values included in the request did not match the number of variable parameters defined in the template."),  # noqa: E501
    132001: (400, "Template does not exist", "The template does not exist in the specified language or the template has not been approved."),  # noqa: E501
}  # fmt: skip

TYPES_WITH_CAPTION = {"image", "video", "document"}
MEDIA_TYPES = {"image", "video", "audio", "document", "sticker"}
PARAMETER_TYPES = {"text", "currency", "date_time", "image", "document", "video", "location",
                   "payload", "coupon_code", "action"}  # fmt: skip
COMPONENT_TYPES = {"header", "body", "button"}
BUTTON_SUB_TYPES = {"quick_reply", "url", "copy_code", "catalog", "flow", "voice_call"}
TOP_LEVEL = {"messaging_product", "recipient_type", "to", "type", "context",
             "biz_opaque_callback_data"}  # fmt: skip
PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{3,30}$")
TEXT_MAX = 4096
CAPTION_MAX = 1024
CALLBACK_DATA_MAX = 512


class GraphError(Exception):
    """A refusal, as Graph answers it."""

    def __init__(self, code: int, details: str | None = None, *, subcode: int | None = None):
        status, title, default_details = ERRORS[code]
        self.code = code
        self.status = status
        self.title = title
        self.details = details or default_details
        self.subcode = subcode
        super().__init__(f"({code}) {title}: {self.details}")

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "message": f"(#{self.code}) {self.title}" if self.code != 190 else self.details,
            "type": "OAuthException",
            "code": self.code,
            "fbtrace_id": "A" + secrets.token_urlsafe(16),
        }
        if self.code != 190:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        return {"error": error}


def invalid(details: str) -> GraphError:
    return GraphError(100, details)


@dataclass(frozen=True)
class Template:
    """An approved template the peer knows: a name in one language, with how many
    variables its header and body have."""

    name: str
    language: str
    body_params: int = 0
    header_params: int = 0


@dataclass(frozen=True)
class Outgoing:
    """A valid send request: who it is for, what it says (text body, media caption or
    link, template name and parameters), and the caller's callback data."""

    to: str
    wa_id: str
    type: str
    body: str
    biz_opaque_callback_data: str | None
    payload: dict[str, Any]


def validate(payload: Any, templates: dict[tuple[str, str], Template] | None = None) -> Outgoing:
    """The request as an `Outgoing`, or a GraphError saying what is wrong (100, or 132000
    and 132001 for templates the peer has been told about)."""
    if not isinstance(payload, dict):
        raise invalid("The request body must be a JSON object.")
    if "messaging_product" not in payload:
        raise invalid("The parameter messaging_product is required.")
    if payload["messaging_product"] != "whatsapp":
        raise invalid("Param messaging_product must be 'whatsapp'.")
    if payload.get("recipient_type", "individual") != "individual":
        raise invalid("Param recipient_type must be 'individual'.")
    to = _phone(payload.get("to"))
    kind = payload.get("type", "text")
    if not isinstance(kind, str) or kind not in VALIDATORS:
        raise invalid(f"Param type must be one of {{{', '.join(sorted(VALIDATORS))}}}.")
    extra = set(payload) - TOP_LEVEL - {kind}
    if extra:
        raise invalid(f"Unexpected key(s) {', '.join(sorted(extra))} for type {kind}.")
    if kind not in payload:
        raise invalid(f"The parameter {kind} is required.")
    body = VALIDATORS[kind](payload[kind], kind)
    if kind == "template" and templates:
        _check_template(payload["template"], templates)
    return Outgoing(
        to=to,
        wa_id=re.sub(r"[^0-9]", "", to),
        type=kind,
        body=body,
        biz_opaque_callback_data=_callback_data(payload.get("biz_opaque_callback_data")),
        payload=payload,
    )


def _phone(value: Any) -> str:
    if value is None:
        raise invalid("The parameter to is required.")
    if not isinstance(value, str) or not PHONE.match(value):
        raise invalid("Param to must be a phone number.")
    return value


def _callback_data(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid("Param biz_opaque_callback_data must be a string.")
    if len(value) > CALLBACK_DATA_MAX:
        raise invalid(
            f"Param biz_opaque_callback_data must be at most {CALLBACK_DATA_MAX} characters long."
        )
    return value


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"Param {name} must be a JSON object.")
    return value


def _string(obj: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise invalid(f"The parameter {where}['{key}'] is required.")
        return None
    if not isinstance(value, str) or not value:
        raise invalid(f"Param {where}['{key}'] must be a non-empty string.")
    return value


def _known_keys(obj: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = set(obj) - allowed
    if extra:
        raise invalid(f"Param {where} has unexpected key(s) {', '.join(sorted(extra))}.")


def _text(value: Any, kind: str) -> str:
    text = _object(value, kind)
    _known_keys(text, {"body", "preview_url"}, kind)
    body = _string(text, "body", kind)
    assert body is not None
    if len(body) > TEXT_MAX:
        raise invalid(f"Param text['body'] must be at most {TEXT_MAX} characters long.")
    if not isinstance(text.get("preview_url", False), bool):
        raise invalid("Param text['preview_url'] must be a boolean.")
    return body


def _media(value: Any, kind: str) -> str:
    media = _object(value, kind)
    allowed = {"link", "id"} | ({"caption"} if kind in TYPES_WITH_CAPTION else set())
    _known_keys(media, allowed | ({"filename"} if kind == "document" else set()), kind)
    if ("link" in media) == ("id" in media):
        raise invalid(f"Param {kind} must have exactly one of 'link' or 'id'.")
    link = _string(media, "link", kind, required=False)
    if link is not None and not re.match(r"^https?://", link):
        raise invalid(f"Param {kind}['link'] must be an http or https URL.")
    media_id = _string(media, "id", kind, required=False)
    caption = _string(media, "caption", kind, required=False)
    if caption is not None and len(caption) > CAPTION_MAX:
        raise invalid(f"Param {kind}['caption'] must be at most {CAPTION_MAX} characters long.")
    _string(media, "filename", kind, required=False)
    return caption or link or media_id or ""


def _template(value: Any, kind: str) -> str:
    template = _object(value, kind)
    _known_keys(template, {"name", "language", "components", "namespace"}, kind)
    name = _string(template, "name", kind)
    if "language" not in template:
        raise invalid("The parameter template['language'] is required.")
    language = _object(template["language"], "template['language']")
    _known_keys(language, {"code", "policy"}, "template['language']")
    _string(language, "code", "template['language']")
    if language.get("policy", "deterministic") != "deterministic":
        raise invalid("Param template['language']['policy'] must be 'deterministic'.")
    components = template.get("components", [])
    if not isinstance(components, list):
        raise invalid("Param template['components'] must be an array.")
    texts = [text for component in components for text in _component(component)]
    return " | ".join([str(name), *texts])


def _component(value: Any) -> list[str]:
    component = _object(value, "template['components'][]")
    _known_keys(component, {"type", "parameters", "sub_type", "index"}, "component")
    kind = component.get("type")
    if kind not in COMPONENT_TYPES:
        raise invalid(f"Param component['type'] must be one of {sorted(COMPONENT_TYPES)}.")
    if kind == "button":
        if component.get("sub_type") not in BUTTON_SUB_TYPES:
            raise invalid("Param component['sub_type'] is required for a button component.")
        if not re.fullmatch(r"[0-9]", str(component.get("index", ""))):
            raise invalid("Param component['index'] must be a number from 0 to 9.")
    parameters = component.get("parameters", [])
    if not isinstance(parameters, list):
        raise invalid("Param component['parameters'] must be an array.")
    return [_parameter(parameter) for parameter in parameters]


def _parameter(value: Any) -> str:
    parameter = _object(value, "parameter")
    kind = parameter.get("type")
    if kind not in PARAMETER_TYPES:
        raise invalid(f"Param parameter['type'] must be one of {sorted(PARAMETER_TYPES)}.")
    if kind not in parameter:
        raise invalid(f"The parameter parameter['{kind}'] is required.")
    content = parameter[kind]
    if kind in {"text", "payload", "coupon_code"}:
        if not isinstance(content, str) or not content:
            raise invalid(f"Param parameter['{kind}'] must be a non-empty string.")
        return str(content)
    if kind in MEDIA_TYPES:
        return _media(content, kind)
    _object(content, f"parameter['{kind}']")
    return str(kind)


def _location(value: Any, kind: str) -> str:
    location = _object(value, kind)
    for key in ("latitude", "longitude"):
        if not isinstance(location.get(key), int | float | str):
            raise invalid(f"The parameter location['{key}'] is required.")
    return f"{location['latitude']},{location['longitude']}"


def _reaction(value: Any, kind: str) -> str:
    reaction = _object(value, kind)
    _string(reaction, "message_id", kind)
    emoji = reaction.get("emoji")
    if not isinstance(emoji, str):
        raise invalid("The parameter reaction['emoji'] is required.")
    return emoji


def _interactive(value: Any, kind: str) -> str:
    interactive = _object(value, kind)
    _string(interactive, "type", kind)
    body = interactive.get("body", {})
    return str(body.get("text", "")) if isinstance(body, dict) else ""


def _contacts(value: Any, kind: str) -> str:
    if not isinstance(value, list) or not value:
        raise invalid("Param contacts must be a non-empty array.")
    for contact in value:
        _object(_object(contact, "contacts[]").get("name"), "contacts[]['name']")
    return f"{len(value)} contact(s)"


VALIDATORS: dict[str, Callable[[Any, str], str]] = {
    "text": _text,
    **dict.fromkeys(MEDIA_TYPES, _media),
    "template": _template,
    "location": _location,
    "reaction": _reaction,
    "interactive": _interactive,
    "contacts": _contacts,
}


def _check_template(template: dict[str, Any], known: dict[tuple[str, str], Template]) -> None:
    name, language = template["name"], template["language"]["code"]
    found = known.get((name, language))
    if found is None:
        raise GraphError(
            132001, f"template name ({name}) does not exist in {language}", subcode=2494073
        )
    counts = {"header": 0, "body": 0}
    for component in template.get("components", []):
        if component["type"] in counts:
            counts[component["type"]] += len(component.get("parameters", []))
    if counts["body"] != found.body_params or counts["header"] != found.header_params:
        raise GraphError(
            132000,
            f"body: number of localizable_params ({counts['body']}) does not match the "
            f"expected number of params ({found.body_params})",
        )
