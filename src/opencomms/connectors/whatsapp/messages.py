"""A submission's `whatsapp` content as a Cloud API message (docs/channel-content.md).

`cloud_message` builds the body of `POST /{phone-number-id}/messages`: a text, one
media by its URL (the type from the URL's extension, the text as its caption), or an
approved template. Our attempt id rides in `biz_opaque_callback_data`, which Meta
echoes in every status webhook of the message, so a status finds its attempt even when
the answer to the send was lost. Content that cannot be sent this way raises
`ContentError`, whose message says why (the attempt fails with it, nothing is sent).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from opencomms.connectors.base import Submission

__all__ = ["MAX_CALLBACK_DATA", "MEDIA_TYPES", "ContentError", "cloud_message", "media_type"]

MAX_CALLBACK_DATA = 512  # bytes of biz_opaque_callback_data Meta takes
MAX_TEXT = 4096  # characters of a text body
MAX_CAPTION = 1024  # characters of a media caption

# a URL's extension -> the Cloud API media type it is sent as (image when unknown)
MEDIA_TYPES: dict[str, str] = {
    **dict.fromkeys(("jpg", "jpeg", "png"), "image"),
    **dict.fromkeys(("mp4", "3gp", "3gpp"), "video"),
    **dict.fromkeys(("aac", "amr", "mp3", "m4a", "ogg", "opus"), "audio"),
    **dict.fromkeys(
        ("pdf", "txt", "csv", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "rtf", "odt"),
        "document",
    ),
}


class ContentError(ValueError):
    """The content cannot be sent as a WhatsApp message (the message says why)."""


def media_type(url: str) -> str:
    """The Cloud API type a media URL is sent as: by its path's extension, else image."""
    suffix = PurePosixPath(urlsplit(url).path).suffix.lower().lstrip(".")
    return MEDIA_TYPES.get(suffix, "image")


def cloud_message(submission: Submission) -> dict[str, Any]:
    """The JSON body that sends `submission` (ContentError when it cannot be sent)."""
    if len(submission.attempt_id.encode()) > MAX_CALLBACK_DATA:
        raise ContentError("the attempt id does not fit biz_opaque_callback_data")
    to = submission.to_address.removeprefix("whatsapp:").removeprefix("+")
    if not to.isdigit():
        raise ContentError(f"the recipient {submission.to_address!r} is not a phone number")
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "biz_opaque_callback_data": submission.attempt_id,
    }
    body.update(_message(submission.content))
    return body


def _message(content: dict[str, Any]) -> dict[str, Any]:
    template = content.get("template")
    if template is not None:
        return {"type": "template", "template": _template(template)}
    media = content.get("media")
    text = content.get("text")
    if text is not None and not isinstance(text, str):
        raise ContentError("text must be a string")
    if media:
        return _media(media, text or "")
    if not text:
        raise ContentError("there is nothing to send: no text, media or template")
    if len(text) > MAX_TEXT:
        raise ContentError(f"a WhatsApp text is {MAX_TEXT} characters at most")
    return {"type": "text", "text": {"body": text, "preview_url": False}}


def _media(media: object, text: str) -> dict[str, Any]:
    """The first media by its link; the text, and the links of any others, as its caption
    (a Cloud API message carries one media)."""
    if not isinstance(media, list) or not all(
        isinstance(item, dict) and isinstance(item.get("url"), str) and item["url"]
        for item in media
    ):
        raise ContentError("media is a list of {url}")
    first, *others = [item["url"] for item in media]
    kind = media_type(first)
    caption = "\n".join(part for part in (text, *others) if part)
    sent: dict[str, Any] = {"link": first}
    if caption:
        if kind == "audio":
            raise ContentError("a WhatsApp audio message takes no text; send it without")
        if len(caption) > MAX_CAPTION:
            raise ContentError(f"a WhatsApp media caption is {MAX_CAPTION} characters at most")
        sent["caption"] = caption
    return {"type": kind, kind: sent}


def _template(template: object) -> dict[str, Any]:
    """`{name, language, components?}`, `language` a code (`en_US`) or `{code}`."""
    if not isinstance(template, dict):
        raise ContentError("template is {name, language, components?}")
    name, language = template.get("name"), template.get("language")
    if isinstance(language, dict):
        language = language.get("code")
    if not isinstance(name, str) or not name or not isinstance(language, str) or not language:
        raise ContentError("a template needs its name and its language code (en_US)")
    sent: dict[str, Any] = {"name": name, "language": {"code": language}}
    components = template.get("components")
    if components is not None:
        if not isinstance(components, list):
            raise ContentError("template components are a list, as the Cloud API takes them")
        sent["components"] = components
    return sent
