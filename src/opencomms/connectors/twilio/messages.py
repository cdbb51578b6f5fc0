"""A submission as the form of `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`.

`To` is the recipient's number; `From` the sender's (or `MessagingServiceSid` when the
connector sends through a Messaging Service). On the WHATSAPP channel both carry
Twilio's `whatsapp:` prefix. The content's text is the `Body`, each media URL a
`MediaUrl` (MMS on SMS, a media message on WhatsApp); `ValidityPeriod` is how long
Twilio may keep it queued, from the sender's fallback timeout; `StatusCallback` is our
webhook with the attempt id in its query, so every status callback names its attempt,
even one whose send's answer was lost. Content that cannot be sent this way raises
`ContentError` (the attempt fails with its code, nothing is sent).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from opencomms.connectors.base import Submission

__all__ = [
    "ATTEMPT_PARAMETER",
    "MAX_VALIDITY_S",
    "WHATSAPP_PREFIX",
    "ContentError",
    "callback_url",
    "message_form",
    "validity_period_s",
]

WHATSAPP_PREFIX = "whatsapp:"
ATTEMPT_PARAMETER = "attempt"  # the StatusCallback's query parameter naming our attempt
MAX_VALIDITY_S = 36_000  # Twilio's ValidityPeriod is 1 to 36,000 seconds
BODY_REQUIRED = 21602
INVALID_CONTENT = 63021  # Twilio's "Channel invalid content error"

Form = list[tuple[str, str]]


class ContentError(ValueError):
    """The content cannot be sent through Twilio; `code` is the attempt's error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def callback_url(webhook_url: str, attempt_id: str) -> str:
    """Our StatusCallback for one attempt: the connector's webhook, naming the attempt."""
    return f"{webhook_url}?{ATTEMPT_PARAMETER}={quote(attempt_id, safe='')}"


def validity_period_s(valid_for_ms: int) -> int | None:
    """ValidityPeriod in whole seconds (rounded up, within Twilio's range); None: unset."""
    if valid_for_ms <= 0:
        return None
    return min(MAX_VALIDITY_S, max(1, -(-valid_for_ms // 1000)))


def address(channel: str, number: str) -> str:
    """An address as Twilio takes it on `channel`: `whatsapp:+1…` on WhatsApp."""
    bare = number.removeprefix(WHATSAPP_PREFIX)
    return WHATSAPP_PREFIX + bare if channel == "WHATSAPP" else bare


def message_form(submission: Submission, messaging_service_sid: str, status_callback: str) -> Form:
    """The form fields that send `submission` (ContentError when it cannot be sent)."""
    form: Form = [("To", address(submission.channel, submission.to_address))]
    if messaging_service_sid:
        form.append(("MessagingServiceSid", messaging_service_sid))
    else:
        form.append(("From", address(submission.channel, submission.from_address)))
    form += _content(submission.content)
    validity = validity_period_s(submission.valid_for_ms)
    if validity is not None:
        form.append(("ValidityPeriod", str(validity)))
    form.append(("StatusCallback", status_callback))
    return form


def _content(content: dict[str, Any]) -> Form:
    if content.get("template") is not None:
        raise ContentError(
            INVALID_CONTENT, "a WhatsApp template is not sent through Twilio (use text and media)"
        )
    text = content.get("text")
    if text is not None and not isinstance(text, str):
        raise ContentError(INVALID_CONTENT, "text must be a string")
    media = content.get("media") or []
    if not isinstance(media, list) or not all(
        isinstance(item, dict) and isinstance(item.get("url"), str) and item["url"]
        for item in media
    ):
        raise ContentError(INVALID_CONTENT, "media is a list of {url}")
    if not text and not media:
        raise ContentError(BODY_REQUIRED, "Message body is required (no text and no media)")
    form: Form = [("Body", text)] if text else []
    return form + [("MediaUrl", item["url"]) for item in media]
