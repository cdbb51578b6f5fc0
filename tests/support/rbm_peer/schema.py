"""The AgentMessage body of `phones.agentMessages.create`, checked as Google documents it.

Only the JSON (lowerCamelCase) field names are known; an unknown field, a second content
of a union, a length or count over its documented limit, or a bad enum value raises
`Invalid` with the field's path. `expiry` reads `ttl` (a duration string like "3.5s")
or `expireTime` (an RFC 3339 timestamp), of which at most one may be set, neither more
than 15 days ahead.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

__all__ = ["MAX_BODY_BYTES", "Invalid", "expiry", "validate_agent_message"]

MAX_BODY_BYTES = 250 * 1024  # the whole stringified AgentMessage
MAX_TEXT = 3072
MAX_SUGGESTIONS = 11
MAX_CARD_SUGGESTIONS = 4
MAX_SUGGESTION_TEXT = 25
MAX_POSTBACK = 2048
MAX_TITLE = 200
MAX_DESCRIPTION = 2000
MAX_URL = 2048  # an assumption: Google documents no URL length for the API
CAROUSEL_CARDS = (2, 10)
MAX_EXPIRY = 15 * 24 * 3600  # ttl, or expireTime after the submission, in seconds
E164 = re.compile(r"^\+[1-9]\d{1,14}$")
DURATION = re.compile(r"^(\d+)(\.\d{1,9})?s$")

OUTPUT_ONLY = {"name", "sendTime", "richMessageClassification", "totalPayloadSizeBytes", "carrier"}
TRAFFIC_TYPES = {
    "MESSAGE_TRAFFIC_TYPE_UNSPECIFIED",
    "AUTHENTICATION",
    "TRANSACTION",
    "PROMOTION",
    "SERVICEREQUEST",
    "ACKNOWLEDGEMENT",
}
CONTENTS = ("text", "fileName", "uploadedRbmFile", "richCard", "contentInfo")
ACTIONS = (
    "dialAction",
    "viewLocationAction",
    "createCalendarEventAction",
    "openUrlAction",
    "shareLocationAction",
    "composeAction",
)
HEIGHTS = {"SHORT", "MEDIUM", "TALL"}


class Invalid(Exception):
    """A body the API refuses with 400 INVALID_ARGUMENT."""

    def __init__(self, field: str, description: str) -> None:
        super().__init__(description)
        self.field = field
        self.description = description


def _object(value: Any, path: str, allowed: set[str] | tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(path, f"Invalid value at '{path}': expected an object.")
    for name in value:
        if name not in allowed:
            raise Invalid(
                path,
                f"Invalid JSON payload received. Unknown name \"{name}\" at '{path}': "
                "Cannot find field.",
            )
    return value


def _one_of(value: dict[str, Any], path: str, names: tuple[str, ...], required: bool) -> str | None:
    present = [name for name in names if name in value]
    if len(present) > 1:
        raise Invalid(
            path, f"Invalid value at '{path}': only one of {', '.join(present)} may be set."
        )
    if required and not present:
        raise Invalid(path, f"Invalid value at '{path}': one of {', '.join(names)} is required.")
    return present[0] if present else None


def _text(value: Any, path: str, limit: int, required: bool = True) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str):
        raise Invalid(path, f"Invalid value at '{path}': expected a string.")
    if required and not value:
        raise Invalid(path, f"'{path}' is required.")
    if len(value) > limit:
        raise Invalid(path, f"'{path}' is longer than {limit} characters ({len(value)}).")


def _enum(value: Any, path: str, allowed: set[str], required: bool = False) -> None:
    if value is None and not required:
        return
    if value not in allowed:
        choices = ", ".join(sorted(allowed))
        raise Invalid(path, f"Invalid value at '{path}': {value!r} is not one of {choices}.")


def _url(value: Any, path: str, required: bool = True) -> None:
    _text(value, path, MAX_URL, required)
    if value is not None and urlparse(value).scheme not in ("http", "https"):
        raise Invalid(path, f"'{path}' must be an absolute http(s) URL.")


def _list(value: Any, path: str, limit: int) -> list[Any]:
    if not isinstance(value, list):
        raise Invalid(path, f"Invalid value at '{path}': expected a list.")
    if len(value) > limit:
        raise Invalid(path, f"'{path}' has {len(value)} items; at most {limit} are allowed.")
    return value


def _timestamp(value: Any, path: str) -> float:
    if not isinstance(value, str):
        raise Invalid(path, f"Invalid value at '{path}': expected an RFC 3339 timestamp.")
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError as error:
        raise Invalid(path, f"Invalid value at '{path}' ({value!r}): not RFC 3339.") from error
    if moment.tzinfo is None or "T" not in value.upper():
        raise Invalid(path, f"Invalid value at '{path}' ({value!r}): not RFC 3339.")
    return moment.timestamp()


def _suggestion(value: Any, path: str) -> None:
    suggestion = _object(value, path, ("reply", "action"))
    kind = _one_of(suggestion, path, ("reply", "action"), required=True)
    if kind == "reply":
        reply = _object(suggestion["reply"], f"{path}.reply", ("text", "postbackData"))
        _text(reply.get("text"), f"{path}.reply.text", MAX_SUGGESTION_TEXT)
        _text(reply.get("postbackData"), f"{path}.reply.postbackData", MAX_POSTBACK, False)
        return
    _action(suggestion["action"], f"{path}.action")


def _action(value: Any, path: str) -> None:
    action = _object(value, path, ("text", "postbackData", "fallbackUrl", *ACTIONS))
    _text(action.get("text"), f"{path}.text", MAX_SUGGESTION_TEXT)
    _text(action.get("postbackData"), f"{path}.postbackData", MAX_POSTBACK, False)
    if "fallbackUrl" in action:
        _url(action["fallbackUrl"], f"{path}.fallbackUrl")
    kind = _one_of(action, path, ACTIONS, required=True)
    assert kind is not None
    ACTION_CHECKS[kind](action[kind], f"{path}.{kind}")


def _dial(value: Any, path: str) -> None:
    dial = _object(value, path, ("phoneNumber",))
    if not isinstance(dial.get("phoneNumber"), str) or not E164.match(dial["phoneNumber"]):
        raise Invalid(f"{path}.phoneNumber", f"'{path}.phoneNumber' must be in E.164 format.")


def _view_location(value: Any, path: str) -> None:
    view = _object(value, path, ("latLong", "label", "query"))
    if "latLong" in view:
        _object(view["latLong"], f"{path}.latLong", ("latitude", "longitude"))
    if "latLong" not in view and "query" not in view:
        raise Invalid(path, f"'{path}' needs latLong or query.")


def _calendar(value: Any, path: str) -> None:
    event = _object(value, path, ("startTime", "endTime", "title", "description"))
    start = _timestamp(event.get("startTime"), f"{path}.startTime")
    end = _timestamp(event.get("endTime"), f"{path}.endTime")
    if end < start:
        raise Invalid(path, f"'{path}.endTime' is before its startTime.")
    _text(event.get("title"), f"{path}.title", 100)
    _text(event.get("description"), f"{path}.description", 500, False)


def _open_url(value: Any, path: str) -> None:
    action = _object(value, path, ("url", "application", "webviewViewMode", "description"))
    _url(action.get("url"), f"{path}.url")
    _enum(action.get("application"), f"{path}.application", {"BROWSER", "WEBVIEW"})
    _enum(action.get("webviewViewMode"), f"{path}.webviewViewMode", {"FULL", "HALF", "TALL"})


def _share_location(value: Any, path: str) -> None:
    _object(value, path, ())


def _compose(value: Any, path: str) -> None:
    compose = _object(value, path, ("composeTextMessage", "composeRecordingMessage"))
    _one_of(compose, path, ("composeTextMessage", "composeRecordingMessage"), required=True)


ACTION_CHECKS = {
    "dialAction": _dial,
    "viewLocationAction": _view_location,
    "createCalendarEventAction": _calendar,
    "openUrlAction": _open_url,
    "shareLocationAction": _share_location,
    "composeAction": _compose,
}


def _suggestions(value: Any, path: str, limit: int) -> None:
    for index, suggestion in enumerate(_list(value, path, limit)):
        _suggestion(suggestion, f"{path}[{index}]")


def _content_info(value: Any, path: str) -> None:
    info = _object(value, path, ("fileUrl", "thumbnailUrl", "forceRefresh"))
    _url(info.get("fileUrl"), f"{path}.fileUrl")
    _url(info.get("thumbnailUrl"), f"{path}.thumbnailUrl", required=False)
    if "forceRefresh" in info and not isinstance(info["forceRefresh"], bool):
        raise Invalid(f"{path}.forceRefresh", f"'{path}.forceRefresh' must be a boolean.")


def _uploaded_file(value: Any, path: str) -> None:
    uploaded = _object(value, path, ("fileName", "thumbnailName"))
    _text(uploaded.get("fileName"), f"{path}.fileName", MAX_URL)
    _text(uploaded.get("thumbnailName"), f"{path}.thumbnailName", MAX_URL, False)


def _media(value: Any, path: str, small: bool) -> None:
    media = _object(value, path, ("fileName", "uploadedRbmFile", "contentInfo", "height"))
    kind = _one_of(media, path, ("fileName", "uploadedRbmFile", "contentInfo"), required=True)
    if kind == "contentInfo":
        _content_info(media["contentInfo"], f"{path}.contentInfo")
    elif kind == "uploadedRbmFile":
        _uploaded_file(media["uploadedRbmFile"], f"{path}.uploadedRbmFile")
    else:
        _text(media["fileName"], f"{path}.fileName", MAX_URL)
    _enum(media.get("height"), f"{path}.height", HEIGHTS)
    if small and media.get("height") == "TALL":
        raise Invalid(f"{path}.height", "TALL media cannot be used in a carousel of SMALL cards.")


def _card_content(value: Any, path: str, small: bool = False) -> dict[str, Any]:
    card = _object(value, path, ("title", "description", "media", "suggestions"))
    if not any(name in card for name in ("title", "description", "media")):
        raise Invalid(path, f"'{path}' needs at least one of title, description or media.")
    _text(card.get("title"), f"{path}.title", MAX_TITLE, False)
    _text(card.get("description"), f"{path}.description", MAX_DESCRIPTION, False)
    if "media" in card:
        _media(card["media"], f"{path}.media", small)
    if "suggestions" in card:
        _suggestions(card["suggestions"], f"{path}.suggestions", MAX_CARD_SUGGESTIONS)
    return card


def _standalone(value: Any, path: str) -> None:
    card = _object(value, path, ("cardOrientation", "thumbnailImageAlignment", "cardContent"))
    _enum(card.get("cardOrientation"), f"{path}.cardOrientation", {"HORIZONTAL", "VERTICAL"}, True)
    _enum(card.get("thumbnailImageAlignment"), f"{path}.thumbnailImageAlignment", {"LEFT", "RIGHT"})
    if "cardContent" not in card:
        raise Invalid(f"{path}.cardContent", f"'{path}.cardContent' is required.")
    content = _card_content(card["cardContent"], f"{path}.cardContent")
    more = any(name in content for name in ("title", "description", "suggestions"))
    if card["cardOrientation"] == "HORIZONTAL" and "media" in content and not more:
        raise Invalid(
            path, "A horizontal card with media needs a title, description or suggestions."
        )


def _carousel(value: Any, path: str) -> None:
    card = _object(value, path, ("cardWidth", "cardContents"))
    _enum(card.get("cardWidth"), f"{path}.cardWidth", {"SMALL", "MEDIUM"}, True)
    low, high = CAROUSEL_CARDS
    contents = _list(card.get("cardContents"), f"{path}.cardContents", high)
    if len(contents) < low:
        raise Invalid(f"{path}.cardContents", f"A carousel needs at least {low} cards.")
    for index, content in enumerate(contents):
        _card_content(content, f"{path}.cardContents[{index}]", card["cardWidth"] == "SMALL")


def _rich_card(value: Any, path: str) -> None:
    card = _object(value, path, ("standaloneCard", "carouselCard"))
    kind = _one_of(card, path, ("standaloneCard", "carouselCard"), required=True)
    if kind == "standaloneCard":
        _standalone(card["standaloneCard"], f"{path}.standaloneCard")
    else:
        _carousel(card["carouselCard"], f"{path}.carouselCard")


def _content_message(value: Any, path: str) -> None:
    message = _object(value, path, ("suggestions", *CONTENTS))
    kind = _one_of(message, path, CONTENTS, required=True)
    if kind == "text":
        _text(message["text"], f"{path}.text", MAX_TEXT)
    elif kind == "richCard":
        _rich_card(message["richCard"], f"{path}.richCard")
    elif kind == "contentInfo":
        _content_info(message["contentInfo"], f"{path}.contentInfo")
    elif kind == "uploadedRbmFile":
        _uploaded_file(message["uploadedRbmFile"], f"{path}.uploadedRbmFile")
    else:
        _text(message["fileName"], f"{path}.fileName", MAX_URL)
    if "suggestions" in message:
        _suggestions(message["suggestions"], f"{path}.suggestions", MAX_SUGGESTIONS)


def validate_agent_message(body: Any, now: float) -> None:
    """Raise `Invalid` unless `body` is an AgentMessage the API would accept at `now`."""
    if len(json.dumps(body).encode()) > MAX_BODY_BYTES:
        raise Invalid("agent_message", "The AgentMessage is larger than 250 KB.")
    allowed = ("contentMessage", "messageTrafficType", "expireTime", "ttl", *OUTPUT_ONLY)
    message = _object(body, "agent_message", allowed)
    if "contentMessage" not in message:
        raise Invalid("agent_message.contentMessage", "'contentMessage' is required.")
    _content_message(message["contentMessage"], "agent_message.contentMessage")
    _enum(message.get("messageTrafficType"), "agent_message.messageTrafficType", TRAFFIC_TYPES)
    expiry(message, now)


def expiry(message: dict[str, Any], now: float) -> float | None:
    """When the message expires (epoch seconds), from `ttl` or `expireTime`; None if never."""
    _one_of(message, "agent_message", ("expireTime", "ttl"), required=False)
    if "expireTime" in message:
        moment = _timestamp(message["expireTime"], "agent_message.expireTime")
        if moment > now + MAX_EXPIRY:
            raise Invalid("agent_message.expireTime", "expireTime is more than 15 days ahead.")
        return moment
    if "ttl" not in message:
        return None
    ttl = message["ttl"]
    match = DURATION.match(ttl) if isinstance(ttl, str) else None
    if match is None:
        refusal = f"Invalid value at 'agent_message.ttl' ({ttl!r}): not a duration like 3.5s."
        raise Invalid("agent_message.ttl", refusal)
    seconds = float(ttl[:-1])
    if seconds <= 0 or seconds > MAX_EXPIRY:
        raise Invalid("agent_message.ttl", "'agent_message.ttl' must be positive, at most 15 days.")
    return now + seconds
