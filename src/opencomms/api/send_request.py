"""The body of `POST /v1/Messages`: decoded, checked field by field, every problem listed.

The body is decoded untyped (msgspec, in C) and walked once; each problem is recorded
with its path (`to[3].address`) so a 10,000-recipient request with bad addresses gets
them all back in one answer, with their index. Sizes and how far ahead `sendAt` may be
are the operator's `[input]` settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeGuard

import msgspec

from opencomms.api.common import decode_json
from opencomms.api.errors import FieldError, field_path, unknown_fields
from opencomms.domain.addresses import normalize_address
from opencomms.domain.channels import RecipientChannel, SenderChannel
from opencomms.domain.clock import now_ms, parse_iso_ms
from opencomms.domain.ids import CONTENT_SID_RE, SENDER_ID_RE, SENDER_POOL_ID_RE
from opencomms.domain.local_time import parse_local, window_ms
from opencomms.domain.personalization import (
    DEFAULT_LIMITS,
    TemplateError,
    TemplateLimits,
    compile_template,
    is_template,
    strings_in,
)
from opencomms.domain.storable import MAX_TAG_CHARS
from opencomms.settings import InputSettings

__all__ = ["MAX_RECIPIENTS", "SendRequest", "parse_send_request"]

MAX_RECIPIENTS = 10_000
MAX_ADDRESSES = 10
MAX_TEXT = 10_000
MAX_MEDIA = 10
MAX_TAGS = 10
MAX_VARIABLES = 100
YEAR_MS = 36_525 * 86_400_000 // 100  # a Julian year: 365.25 days
MAX_MODULE_DEPTH = 32  # rich cards nest a few levels; the engine decodes modules again
# \Z, not $: `$` also matches before a trailing newline
TAG_PATTERN = re.compile(r"^[a-zA-Z0-9._~-]+\Z")
URL_PATTERN = re.compile(r"^https?://[^\s/?#]+\S*\Z")
# no whitespace or control character may hide in an address (nor reach the database)
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f]")
MODULE_CHANNELS = {"rcs", "whatsapp", "sms", "email"}
TOP_FIELDS = {"to", "content", "from", "schedule", "callbacks", "tags"}
_RECIPIENT_CHANNELS = {c.value for c in RecipientChannel}
_SENDER_CHANNELS = {c.value for c in SenderChannel}


@dataclass
class SendRequest:
    # each: {"addresses": [[address, channel], ...], "variables": {...}?}
    recipients: list[dict[str, Any]] = field(default_factory=list)
    content: dict[str, Any] = field(default_factory=dict)
    sender: dict[str, str] | None = None
    send_at: int | None = None
    send_at_local: str | None = None  # a zone-less sendAt: each recipient's local time
    tags: dict[str, str] = field(default_factory=dict)
    callbacks: dict[str, str] | None = None


class _Checker:
    def __init__(self, limits: InputSettings, now: int, templates: TemplateLimits) -> None:
        self.errors: list[FieldError] = []
        self.limits = limits
        self.templates = templates
        self.now = now
        self._failed: set[str] = set()

    def fail(self, path: str, message: str) -> None:
        """Record a problem; one per field (an unstorable string is not also malformed)."""
        if path not in self._failed:
            self._failed.add(path)
            self.errors.append(FieldError(path, message))

    def object(self, value: Any, path: str) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.fail(path, "must be an object")
        return None

    def unknown(self, value: dict[str, Any], allowed: set[str], path: str) -> None:
        self.errors += unknown_fields(value, allowed, path)

    def text(self, value: Any, path: str, *, limit: int) -> str | None:
        if not isinstance(value, str):
            self.fail(path, "must be a string")
            return None
        if len(value) > limit:
            self.fail(path, f"must be at most {limit} characters")
            return None
        return value

    def url(self, value: Any) -> TypeGuard[str]:
        return (
            isinstance(value, str)
            and len(value) <= self.limits.max_url_chars
            and URL_PATTERN.match(value) is not None
        )

    def url_problem(self) -> str:
        return f"must be an http(s) URL of at most {self.limits.max_url_chars} characters"

    def template(self, value: str, path: str) -> None:
        if is_template(value):
            try:
                compile_template(value, self.templates)
            except TemplateError as error:
                self.fail(path, f"is not a valid Liquid template: {error}")


def parse_send_request(
    body: bytes,
    limits: InputSettings | None = None,
    now: int | None = None,
    templates: TemplateLimits = DEFAULT_LIMITS,
) -> tuple[SendRequest, list[FieldError]]:
    """The request, and every problem found in it (empty when it can be accepted).
    `templates`: a template that must break these bounds for every recipient is one."""
    check = _Checker(limits or InputSettings(), now_ms() if now is None else now, templates)
    raw, problems = decode_json(body)
    for problem in problems:
        check.fail(problem.field, problem.message)
    if raw is None and problems:  # not JSON
        return SendRequest(), check.errors
    data = check.object(raw, "body")
    if data is None:
        return SendRequest(), check.errors
    check.unknown(data, TOP_FIELDS, "")
    request = SendRequest()
    _recipients(check, data.get("to"), request)
    _content(check, data.get("content"), request)
    if data.get("from") is not None:
        request.sender = _sender(check, data["from"])
    if data.get("schedule") is not None:
        _schedule(check, data["schedule"], request)
    if data.get("callbacks") is not None:
        request.callbacks = _callbacks(check, data["callbacks"])
    if data.get("tags") is not None:
        request.tags = _tags(check, data["tags"])
    return request, check.errors


def _recipients(check: _Checker, value: Any, request: SendRequest) -> None:
    if value is None:
        check.fail("to", "is required")
        return
    if not isinstance(value, list):
        check.fail("to", "must be an array of recipients")
        return
    if not 1 <= len(value) <= MAX_RECIPIENTS:
        check.fail("to", f"must have from 1 to {MAX_RECIPIENTS} recipients, not {len(value)}")
        return
    recipients = request.recipients
    for index, item in enumerate(value):
        path = f"to[{index}]"
        if not isinstance(item, dict):
            check.fail(path, "must be an object")
            continue
        recipient = _recipient(check, item, path)
        if recipient is not None:
            recipients.append(recipient)


def _address(check: _Checker, item: dict[str, Any], path: str) -> list[str] | None:
    address, channel = item.get("address"), item.get("channel")
    if not isinstance(channel, str) or channel.upper() not in _RECIPIENT_CHANNELS:
        check.fail(f"{path}.channel", "must be one of PHONE, WHATSAPP, EMAIL")
        return None
    channel = channel.upper()
    if not isinstance(address, str):
        check.fail(f"{path}.address", "is required and must be a string")
        return None
    if len(address) > check.limits.max_address_chars:
        check.fail(
            f"{path}.address", f"must be at most {check.limits.max_address_chars} characters"
        )
        return None
    normalized = None if _UNSAFE.search(address) else normalize_address(address, channel)
    if normalized is None:
        expected = "an email address" if channel == "EMAIL" else "a phone number in E.164 form"
        check.fail(f"{path}.address", f"must be {expected}, not {address!r}")
        return None
    return [normalized, channel]


def _recipient(check: _Checker, item: dict[str, Any], path: str) -> dict[str, Any] | None:
    errors_before = len(check.errors)
    recipient: dict[str, Any] = {}
    if "address" in item or ("channel" in item and "addresses" not in item):
        check.unknown(item, {"address", "channel", "variables"}, path)
        address = _address(check, item, path)
        recipient["addresses"] = [address] if address else []
    elif "addresses" in item:
        check.unknown(item, {"addresses", "variables"}, path)
        addresses = item["addresses"]
        if not isinstance(addresses, list) or not 1 <= len(addresses) <= MAX_ADDRESSES:
            check.fail(f"{path}.addresses", f"must be an array of 1 to {MAX_ADDRESSES} addresses")
            return None
        found = []
        for position, entry in enumerate(addresses):
            entry_path = f"{path}.addresses[{position}]"
            if check.object(entry, entry_path) is not None:
                check.unknown(entry, {"address", "channel"}, entry_path)
                found.append(_address(check, entry, entry_path))
        recipient["addresses"] = found
    elif "contactId" in item:
        check.fail(f"{path}.contactId", "contacts are not supported; give address and channel")
        return None
    else:
        check.fail(path, "must have address and channel, or addresses")
        return None
    variables = item.get("variables")
    if variables is not None:
        recipient["variables"] = _variables(check, variables, f"{path}.variables")
    return recipient if len(check.errors) == errors_before else None


def _variables(check: _Checker, value: Any, path: str) -> dict[str, str]:
    if not isinstance(value, dict):
        check.fail(path, "must be an object of strings")
        return {}
    if len(value) > MAX_VARIABLES:
        check.fail(path, f"must have at most {MAX_VARIABLES} variables")
    limits = check.limits
    variables = {}
    for key, item in value.items():
        if len(key) > limits.max_name_chars:
            check.fail(path, f"names must be at most {limits.max_name_chars} characters")
        elif isinstance(item, str):
            variables[key] = item
        elif isinstance(item, int | float) and not isinstance(item, bool):
            variables[key] = str(item)  # (msgspec refuses integers of over 4,300 digits)
        else:
            check.fail(field_path(path, key), "must be a string")
            continue
        if len(variables.get(key, "")) > limits.max_variable_chars:
            check.fail(
                field_path(path, key), f"must be at most {limits.max_variable_chars} characters"
            )
    return variables


def _content(check: _Checker, value: Any, request: SendRequest) -> None:
    if value is None:
        check.fail("content", "is required")
        return
    content = check.object(value, "content")
    if content is None:
        return
    if "contentId" in content:
        request.content = _content_template(check, content)
        return
    check.unknown(content, {"text", "media", "modules"}, "content")
    errors_before = len(check.errors)
    result: dict[str, Any] = {}
    if content.get("text") is not None:
        text = check.text(content["text"], "content.text", limit=MAX_TEXT)
        if text is not None:
            check.template(text, "content.text")
            result["text"] = text
    if content.get("media") is not None:
        result["media"] = _media(check, content["media"], "content.media")
    if content.get("modules") is not None:
        result["modules"] = _modules(check, content["modules"])
    given = result.get("text") or result.get("media") or result.get("modules")
    if not given and len(check.errors) == errors_before:
        check.fail("content", "must have text, media or modules")
    request.content = result


def _content_template(check: _Checker, content: dict[str, Any]) -> dict[str, Any]:
    """`{contentId, variables?}`: a content template (`/v1/Content`), with the values of
    its placeholders where a recipient has none. The API makes it into channel modules
    once it has read the template (api/content.py)."""
    check.unknown(content, {"contentId", "variables"}, "content")
    sid = content["contentId"]
    result: dict[str, Any] = {}
    if not isinstance(sid, str) or not CONTENT_SID_RE.match(sid):
        check.fail("content.contentId", "must be a content template's SID (HX and 32 hex digits)")
    else:
        result["contentId"] = sid
    if content.get("variables") is not None:
        result["variables"] = _variables(check, content["variables"], "content.variables")
    return result


def _media(check: _Checker, value: Any, path: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or len(value) > MAX_MEDIA:
        check.fail(path, f"must be an array of at most {MAX_MEDIA} {{url}} objects")
        return []
    media = []
    for index, item in enumerate(value):
        url = item.get("url") if isinstance(item, dict) else None
        if isinstance(item, dict):
            check.unknown(item, {"url"}, f"{path}[{index}]")
        if not check.url(url):
            check.fail(f"{path}[{index}].url", check.url_problem())
        else:
            media.append({"url": url})
    return media


def _modules(check: _Checker, value: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(value, list) or not 1 <= len(value) <= len(MODULE_CHANNELS):
        check.fail("content.modules", "must be an array of 1 to 4 channel modules")
        return {}
    modules: dict[str, dict[str, Any]] = {}
    for index, item in enumerate(value):
        found = _channel_module(check, item, f"content.modules[{index}]", modules)
        if found is not None:
            channel, module = found
            modules[channel] = module
    return modules


def _channel_module(
    check: _Checker, item: Any, path: str, seen: dict[str, dict[str, Any]]
) -> tuple[str, dict[str, Any]] | None:
    """One `{channel: module}` item as (channel, module): a channel not `seen` before,
    its module within bounds; None when it has a problem."""
    if not isinstance(item, dict) or len(item) != 1:
        check.fail(path, "must be an object with one key: rcs, whatsapp, sms or email")
        return None
    ((name, module),) = item.items()
    channel = name.lower()
    if channel not in MODULE_CHANNELS:
        check.fail(path, f"{name!r} is not a channel module: rcs, whatsapp, sms or email")
        return None
    if channel in seen:
        check.fail(path, f"the {channel} module appears twice")
        return None
    if check.object(module, f"{path}.{name}") is None:
        return None
    if not _module_shape(check, module, f"{path}.{name}"):
        return None
    _module_texts(check, module, f"{path}.{name}")
    return channel, module


def _module_texts(check: _Checker, module: dict[str, Any], path: str) -> None:
    """Its `text` a string; each of its strings within MAX_TEXT and a valid template."""
    if "text" in module and not isinstance(module["text"], str):
        check.fail(f"{path}.text", "must be a string")
    for inner, text in strings_in(module, path):
        if check.text(text, inner, limit=MAX_TEXT):
            check.template(text, inner)


def _module_shape(check: _Checker, module: dict[str, Any], path: str) -> bool:
    """Whether a channel module is within bounds: its depth, the items of each array,
    the fields of each object, and its whole size as JSON; each excess is a problem."""
    limits = check.limits
    errors_before = len(check.errors)
    stack: list[tuple[Any, str, int]] = [(module, path, 1)]
    while stack:
        item, where, depth = stack.pop()
        if depth > MAX_MODULE_DEPTH:
            check.fail(path, f"must nest at most {MAX_MODULE_DEPTH} levels")
            return False
        if isinstance(item, dict):
            if len(item) > limits.max_fields:
                check.fail(where, f"must have at most {limits.max_fields} fields")
            stack.extend((child, field_path(where, key), depth + 1) for key, child in item.items())
        elif isinstance(item, list):
            if len(item) > limits.max_module_items:
                check.fail(where, f"must have at most {limits.max_module_items} items")
            stack.extend((child, f"{where}[{i}]", depth + 1) for i, child in enumerate(item))
    if (
        len(check.errors) == errors_before
        and len(msgspec.json.encode(module)) > limits.max_module_chars
    ):
        check.fail(path, f"must be at most {limits.max_module_chars} characters as JSON")
    return len(check.errors) == errors_before


def _sender(check: _Checker, value: Any) -> dict[str, str] | None:
    sender = check.object(value, "from")
    if sender is None:
        return None
    forms = [key for key in ("address", "senderId", "senderPoolId") if key in sender]
    if len(forms) != 1:
        check.fail("from", "must be one of {address, channel}, {senderId} or {senderPoolId}")
        return None
    if forms[0] == "address":
        check.unknown(sender, {"address", "channel"}, "from")
        channel = sender.get("channel")
        if not isinstance(channel, str) or channel.upper() not in _SENDER_CHANNELS:
            check.fail("from.channel", "must be one of SMS, RCS, WHATSAPP, EMAIL")
            return None
        address = sender["address"]
        if (
            not isinstance(address, str)
            or not 1 <= len(address) <= check.limits.max_address_chars
            or _UNSAFE.search(address)
        ):
            check.fail("from.address", "must be a sender's address")
            return None
        return {"address": address, "channel": channel.upper()}
    key = forms[0]
    check.unknown(sender, {key}, "from")
    pattern, kind = (
        (SENDER_ID_RE, "a sender id (comms_sender_…)")
        if key == "senderId"
        else (SENDER_POOL_ID_RE, "a sender pool id (comms_senderpool_…)")
    )
    if not isinstance(sender[key], str) or not pattern.fullmatch(sender[key]):
        check.fail(f"from.{key}", f"must be {kind}")
        return None
    return {key: sender[key]}


def _schedule(check: _Checker, value: Any, request: SendRequest) -> None:
    """`sendAt`: date-times with a zone (the latest is used), or without one (taken in
    each recipient's local time, domain/local_time.py), not both."""
    schedule = check.object(value, "schedule")
    if schedule is None:
        return
    check.unknown(schedule, {"sendAt"}, "schedule")
    send_at = schedule.get("sendAt")
    if isinstance(send_at, str):
        send_at = [send_at]
    if not isinstance(send_at, list) or not send_at:
        check.fail("schedule.sendAt", "must be an array of date-times")
        return
    moments, local = _send_at_times(check, send_at)
    if moments and local:
        check.fail("schedule.sendAt", "must all have a zone, or none (local time)")
    elif len(moments) == len(send_at):
        request.send_at = max(moments)
    elif len(local) == len(send_at):
        request.send_at_local = max(local).isoformat()


def _send_at_times(check: _Checker, send_at: list[Any]) -> tuple[list[int], list[datetime]]:
    """The date-times of `sendAt` with a zone (as ms) and without one; each that is
    neither, or is more than `max_send_at_years` ahead, is a problem."""
    moments: list[int] = []
    local: list[datetime] = []
    years = check.limits.max_send_at_years
    horizon = check.now + years * YEAR_MS
    for index, text in enumerate(send_at):
        moment = parse_iso_ms(text) if isinstance(text, str) else None
        naive = parse_local(text) if isinstance(text, str) and moment is None else None
        if moment is not None:
            moments.append(moment)
        elif naive is not None:
            local.append(naive)
            moment = window_ms(naive)[0]  # when it first happens somewhere
        else:
            check.fail(f"schedule.sendAt[{index}]", "must be an RFC 3339 date-time")
        if moment is not None and moment > horizon:
            check.fail(f"schedule.sendAt[{index}]", f"must be at most {years} years ahead")
    return moments, local


def _callbacks(check: _Checker, value: Any) -> dict[str, str] | None:
    callbacks = check.object(value, "callbacks")
    if callbacks is None:
        return None
    check.unknown(callbacks, {"url"}, "callbacks")
    url = callbacks.get("url")
    if not check.url(url):
        check.fail("callbacks.url", check.url_problem())
        return None
    return {"url": url}


def _tags(check: _Checker, value: Any) -> dict[str, str]:
    tags = check.object(value, "tags")
    if tags is None:
        return {}
    if len(tags) > MAX_TAGS:
        check.fail("tags", f"must have at most {MAX_TAGS} pairs")
    result = {}
    for key, item in tags.items():
        path = field_path("tags", key)
        limit = check.limits.max_name_chars
        if len(key) > limit or not TAG_PATTERN.match(key):
            check.fail(path, f"key must be 1-{limit} characters of [a-zA-Z0-9._~-]")
            continue
        text = check.text(item, path, limit=MAX_TAG_CHARS)
        if text is None:
            continue
        if is_template(text):
            check.template(text, path)
        elif not TAG_PATTERN.match(text):
            check.fail(path, f"value must be 1-{MAX_TAG_CHARS} characters of [a-zA-Z0-9._~-]")
            continue
        result[key] = text
    return result
