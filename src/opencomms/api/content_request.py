"""The body of `POST /v1/Content`: a content template, checked field by field, every
problem listed.

The fields are Twilio's (`friendly_name`, `language`, `variables`, `types`); the types are
`twilio/text`, `twilio/media`, `twilio/card` and our `whatsapp/template` (docs/api.md,
"Content templates"). A null is an absent field: twilio-python sends every field it knows,
each type and each of their fields, null when not set. Twilio's other types are refused
by name, as is any type Twilio does not have.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from opencomms.api.errors import FieldError, field_path
from opencomms.api.send_request import URL_PATTERN
from opencomms.domain.content_templates import PLACEHOLDER, VARIABLE_KEY
from opencomms.settings import InputSettings

__all__ = ["ContentRequest", "parse_content_request"]

FIELDS = {"friendly_name", "language", "variables", "types"}
MAX_FRIENDLY_NAME = 256
MAX_VARIABLES = 100
MAX_TEXT = 1_600  # a body: Twilio's bound on a message's text
MAX_TITLE = 1_024
MAX_SUBTITLE = 60
MAX_ACTION_TITLE = 25  # an RBM suggestion's text
MAX_ACTION_ID = 200
MAX_MEDIA = 10
MAX_ACTIONS = 10
LANGUAGE = re.compile(r"[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8}){0,2}\Z")
WHATSAPP_NAME = re.compile(r"[a-z0-9_]{1,512}\Z")  # Meta's rule for template names
_PHONE = re.compile(r"\+?[0-9]{2,15}\Z")
ACTION_TYPES = {"URL", "PHONE_NUMBER", "QUICK_REPLY"}
SUPPORTED = ("twilio/text", "twilio/media", "twilio/card", "whatsapp/template")
# Twilio's types that opencomms does not render (yet): refused by name
NOT_SUPPORTED = {
    "twilio/location", "twilio/list-picker", "twilio/call-to-action", "twilio/quick-reply",
    "twilio/catalog", "twilio/carousel", "twilio/flows", "twilio/schedule",
    "whatsapp/card", "whatsapp/authentication", "whatsapp/flows",
}  # fmt: skip
# fields twilio-python sends (null) on every card action; only null is taken
_ACTION_NULLS = {"code", "webview_size", "digitable_line"}


class ContentRequest(msgspec.Struct):
    friendly_name: str | None = None
    language: str = ""
    variables: dict[str, str] = msgspec.field(default_factory=dict)
    types: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)


def _given(value: dict[str, Any]) -> dict[str, Any]:
    """The fields of `value` that are not null."""
    return {key: item for key, item in value.items() if item is not None}


class _Checker:
    def __init__(self, limits: InputSettings) -> None:
        self.errors: list[FieldError] = []
        self.limits = limits

    def fail(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))

    def object(self, value: Any, path: str, allowed: set[str]) -> dict[str, Any] | None:
        """`value` without its nulls, if it is an object of `allowed` fields."""
        if not isinstance(value, dict):
            self.fail(path, "must be an object")
            return None
        given = _given(value)
        for key in given.keys() - allowed:
            self.fail(field_path(path, key), "is not a known field")
        return given

    def text(self, value: Any, path: str, limit: int, *, required: bool = False) -> str | None:
        if value is None:
            if required:
                self.fail(path, "is required")
            return None
        if not isinstance(value, str) or not 1 <= len(value) <= limit:
            self.fail(path, f"must be a string of 1 to {limit} characters")
            return None
        return value

    def url(self, value: Any, path: str) -> str | None:
        """An http(s) URL, which may hold placeholders (`https://cdn.example/{{1}}.png`)."""
        limit = self.limits.max_url_chars
        if (
            not isinstance(value, str)
            or len(value) > limit
            or not URL_PATTERN.match(PLACEHOLDER.sub("x", value))
        ):
            self.fail(path, f"must be an http(s) URL of at most {limit} characters")
            return None
        return value

    def urls(self, value: Any, path: str, most: int, *, required: bool) -> list[str]:
        if value is None and not required:
            return []
        if not isinstance(value, list) or not 1 <= len(value) <= most:
            self.fail(path, f"must be an array of 1 to {most} URLs")
            return []
        found = [self.url(item, f"{path}[{index}]") for index, item in enumerate(value)]
        return [url for url in found if url is not None]


def parse_content_request(
    body: dict[str, Any], limits: InputSettings | None = None
) -> tuple[ContentRequest, list[FieldError]]:
    """The template, and every problem found in it (empty when it can be created)."""
    check = _Checker(limits or InputSettings())
    given = check.object(body, "", FIELDS) or {}
    request = ContentRequest()
    request.friendly_name = check.text(
        given.get("friendly_name"), "friendly_name", MAX_FRIENDLY_NAME
    )
    language = given.get("language")
    if not isinstance(language, str) or not LANGUAGE.match(language):
        check.fail("language", "is required: a language code such as en, pt_BR or en-US")
    else:
        request.language = language
    request.variables = _variables(check, given.get("variables"))
    request.types = _types(check, given.get("types"))
    return request, check.errors


def _variables(check: _Checker, value: Any) -> dict[str, str]:
    """`{"1": "default", ...}`: each placeholder's value where a send gives none."""
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_VARIABLES:
        check.fail("variables", f"must be an object of at most {MAX_VARIABLES} strings")
        return {}
    limit = check.limits.max_variable_chars
    variables = {}
    for key, item in value.items():
        path = field_path("variables", key)
        if not VARIABLE_KEY.match(key):
            check.fail(path, "names must be 1 to 16 letters, digits or _")
        elif not isinstance(item, str) or len(item) > limit:
            check.fail(path, f"must be a string of at most {limit} characters")
        else:
            variables[key] = item
    return variables


def _types(check: _Checker, value: Any) -> dict[str, dict[str, Any]]:
    if value is None:
        check.fail("types", "is required: an object of content types, such as twilio/text")
        return {}
    if not isinstance(value, dict):
        check.fail("types", "must be an object of content types, such as twilio/text")
        return {}
    types: dict[str, dict[str, Any]] = {}
    for name, item in _given(value).items():
        path = field_path("types", name)
        if name in NOT_SUPPORTED:
            check.fail(path, f"is not supported; the types are {', '.join(SUPPORTED)}")
        elif name not in SUPPORTED:
            check.fail(path, f"is not a content type; the types are {', '.join(SUPPORTED)}")
        else:
            parsed = _TYPE_CHECKS[name](check, item, path)
            if parsed is not None:
                types[name] = parsed
    if not types and not check.errors:
        check.fail("types", f"must have at least one of {', '.join(SUPPORTED)}")
    return types


def _text_type(check: _Checker, value: Any, path: str) -> dict[str, Any] | None:
    given = check.object(value, path, {"body"})
    if given is None:
        return None
    body = check.text(given.get("body"), f"{path}.body", MAX_TEXT, required=True)
    return {"body": body} if body is not None else None


def _media_type(check: _Checker, value: Any, path: str) -> dict[str, Any] | None:
    given = check.object(value, path, {"body", "media"})
    if given is None:
        return None
    errors_before = len(check.errors)
    parsed: dict[str, Any] = {}
    body = check.text(given.get("body"), f"{path}.body", MAX_TEXT)
    if body is not None:
        parsed["body"] = body
    parsed["media"] = check.urls(given.get("media"), f"{path}.media", MAX_MEDIA, required=True)
    return parsed if len(check.errors) == errors_before else None


def _card_type(check: _Checker, value: Any, path: str) -> dict[str, Any] | None:
    given = check.object(value, path, {"title", "subtitle", "body", "media", "actions"})
    if given is None:
        return None
    errors_before = len(check.errors)
    parsed: dict[str, Any] = {}
    for field, limit in (("title", MAX_TITLE), ("subtitle", MAX_SUBTITLE), ("body", MAX_TEXT)):
        text = check.text(given.get(field), f"{path}.{field}", limit)
        if text is not None:
            parsed[field] = text
    if "title" not in given and "body" not in given:
        check.fail(path, "must have a title or a body")
    media = check.urls(given.get("media"), f"{path}.media", 1, required=False)
    if media:
        parsed["media"] = media
    actions = given.get("actions")
    if actions is not None:
        parsed["actions"] = _actions(check, actions, f"{path}.actions")
    return parsed if len(check.errors) == errors_before else None


def _actions(check: _Checker, value: Any, path: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or len(value) > MAX_ACTIONS:
        check.fail(path, f"must be an array of at most {MAX_ACTIONS} actions")
        return []
    found = [_action(check, item, f"{path}[{index}]") for index, item in enumerate(value)]
    return [action for action in found if action is not None]


def _action(check: _Checker, value: Any, path: str) -> dict[str, str] | None:
    """A card's button: `{type: URL|PHONE_NUMBER|QUICK_REPLY, title, url?, phone?, id?}`."""
    given = check.object(value, path, {"type", "title", "url", "phone", "id"} | _ACTION_NULLS)
    if given is None:
        return None
    errors_before = len(check.errors)
    for key in given.keys() & _ACTION_NULLS:
        check.fail(f"{path}.{key}", "is not supported")
    kind = given.get("type")
    if not isinstance(kind, str) or kind.upper() not in ACTION_TYPES:
        check.fail(f"{path}.type", f"must be one of {', '.join(sorted(ACTION_TYPES))}")
        return None
    action = {"type": kind.upper()}
    for field, limit in (("title", MAX_ACTION_TITLE), ("id", MAX_ACTION_ID)):
        text = check.text(given.get(field), f"{path}.{field}", limit, required=field == "title")
        if text is not None:
            action[field] = text
    if action["type"] == "URL":
        url = check.url(given.get("url"), f"{path}.url")
        action["url"] = url or ""
    elif action["type"] == "PHONE_NUMBER":
        phone = given.get("phone")
        if not isinstance(phone, str) or not _PHONE.match(PLACEHOLDER.sub("1", phone)):
            check.fail(f"{path}.phone", "must be a phone number in E.164 form")
        action["phone"] = str(phone)
    return action if len(check.errors) == errors_before else None


def _whatsapp_type(check: _Checker, value: Any, path: str) -> dict[str, Any] | None:
    """Our `whatsapp/template`: `{name, language?}`, a template approved on the sender's
    WhatsApp Business Account; its body parameters are the template's variables."""
    given = check.object(value, path, {"name", "language"})
    if given is None:
        return None
    parsed: dict[str, Any] = {}
    name, language = given.get("name"), given.get("language")
    if not isinstance(name, str) or not WHATSAPP_NAME.match(name):
        check.fail(f"{path}.name", "is required: an approved template's name ([a-z0-9_])")
    else:
        parsed["name"] = name
    if language is not None and (not isinstance(language, str) or not LANGUAGE.match(language)):
        check.fail(f"{path}.language", "must be a language code such as en_US")
    elif language is not None:
        parsed["language"] = language
    return parsed if "name" in parsed and len(parsed) == len(given) else None


_TYPE_CHECKS = {
    "twilio/text": _text_type,
    "twilio/media": _media_type,
    "twilio/card": _card_type,
    "whatsapp/template": _whatsapp_type,
}
