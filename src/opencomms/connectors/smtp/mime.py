"""A submission's `email` content as a MIME message (the email module's EmailMessage).

`{subject?, text?, html?, media?: [{url}]}`: `text` is the text/plain part, `html` an
alternative text/html part beside it; the subject is `subject`, else the text's first
line (cut at 78 characters). Media are links, never attachments: the connector does not
fetch URLs (a slow or hostile host would hold a connection of the pool; the mail would
grow past relays' size limits), so each URL is listed under the text, and under the
HTML as links. The Message-ID names the attempt (`<SM…@sender's domain>`), so that a
bounce without an ENVID is still found by the headers it returns.
"""

from __future__ import annotations

import html
import re
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from opencomms.connectors.base import Submission

__all__ = ["ONE_CLICK", "ContentError", "email_message", "message_id"]

ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058's List-Unsubscribe-Post value
SUBJECT_CHARS = 78


class ContentError(ValueError):
    """Content an email cannot carry (no text, no HTML, no media)."""


def message_id(submission: Submission) -> str:
    domain = submission.from_address.rpartition("@")[2] or "opencomms.invalid"
    return f"<{submission.attempt_id}@{domain}>"


def email_message(submission: Submission, unsubscribe_url: str | None) -> EmailMessage:
    """The mail of `submission`; with `unsubscribe_url`, RFC 8058 one-click headers."""
    content: dict[str, Any] = submission.content
    text, body_html = _string(content, "text"), _string(content, "html")
    urls = [m["url"] for m in content.get("media") or () if isinstance(m, dict) and m.get("url")]
    if not (text or body_html or urls):
        raise ContentError("an email needs text, html or media")
    message = EmailMessage()
    message["From"] = _one_line(submission.from_address)
    message["To"] = _one_line(submission.to_address)
    message["Subject"] = _subject(content, text or _strip_tags(body_html))
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(submission)
    if unsubscribe_url is not None:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = ONE_CLICK
    plain = "\n\n".join(part for part in (text, "\n".join(urls)) if part)
    message.set_content(plain or " ", cte="quoted-printable")
    if body_html:
        message.add_alternative(
            _with_links(body_html, urls), subtype="html", cte="quoted-printable"
        )
    return message


def _string(content: dict[str, Any], key: str) -> str:
    value = content.get(key)
    return value if isinstance(value, str) else ""


def _one_line(text: str) -> str:
    """A header's value on one line (a CR or LF would start another header)."""
    return " ".join(text.split())


def _subject(content: dict[str, Any], text: str) -> str:
    subject = _one_line(_string(content, "subject"))
    if subject:
        return subject
    first = text.strip().split("\n", 1)[0] if text.strip() else ""
    first = _one_line(first)
    return first if len(first) <= SUBJECT_CHARS else first[: SUBJECT_CHARS - 1] + "…"


def _strip_tags(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", " ", markup))


def _with_links(body_html: str, urls: list[str]) -> str:
    if not urls:
        return body_html
    items = "".join(f'<li><a href="{html.escape(u)}">{html.escape(u)}</a></li>' for u in urls)
    links = f"<ul>{items}</ul>"
    at = body_html.lower().rfind("</body>")
    return body_html + links if at < 0 else body_html[:at] + links + body_html[at:]
