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
import quopri
import re
from email import policy
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate
from io import BytesIO
from typing import Any, cast

from opencomms.connectors.base import Submission

__all__ = ["ONE_CLICK", "ContentError", "email_message", "message_id", "wire_bytes"]

ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058's List-Unsubscribe-Post value
SUBJECT_CHARS = 78
_WIRE = policy.compat32.clone(linesep="\r\n")


class ContentError(ValueError):
    """Content an email cannot carry (no text, no HTML, no media)."""


def message_id(submission: Submission) -> str:
    domain = submission.from_address.rpartition("@")[2] or "opencomms.invalid"
    return f"<{submission.attempt_id}@{domain}>"


def email_message(submission: Submission, unsubscribe_url: str | None) -> Message:
    """The mail of `submission`; with `unsubscribe_url`, RFC 8058 one-click headers.

    Built with the email module's compat32 classes: the modern API parses every header
    it is given back (about 5 ms a mail, most of a send's CPU); these headers are ours."""
    content: dict[str, Any] = submission.content
    text, body_html = _string(content, "text"), _string(content, "html")
    urls = [m["url"] for m in content.get("media") or () if isinstance(m, dict) and m.get("url")]
    if not (text or body_html or urls):
        raise ContentError("an email needs text, html or media")
    plain = "\n\n".join(part for part in (text, "\n".join(urls)) if part)
    message: Message = _part(plain or " ", "plain")
    if body_html:
        parts = [message, _part(_with_links(body_html, urls), "html")]
        for part in parts:
            del part["MIME-Version"]  # the whole mail's header, not a part's
        message = MIMEMultipart("alternative", _subparts=parts)
    message["From"] = _header(submission.from_address)
    message["To"] = _header(submission.to_address)
    message["Subject"] = _header(_subject(content, text or _strip_tags(body_html)))
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(submission)
    if unsubscribe_url is not None:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = ONE_CLICK
    return message


def wire_bytes(message: Message) -> bytes:
    """The mail as sent: CRLF line ends, and headers never folded (a long
    List-Unsubscribe URL stays one line, as RFC 5322 allows up to 998 characters)."""
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, maxheaderlen=0, policy=_WIRE).flatten(message)
    return out.getvalue()


def _part(text: str, subtype: str) -> MIMEText:
    """A text part in UTF-8, quoted-printable (readable where it is ASCII)."""
    part = MIMEText("", subtype, "utf-8")
    part.replace_header("Content-Transfer-Encoding", "quoted-printable")
    part.set_payload(quopri.encodestring(text.replace("\r\n", "\n").encode()).decode("ascii"))
    return part


def _header(text: str) -> str:
    """A header's value on one line (a CR or LF would start another header); RFC 2047
    encoded when it is not ASCII (a Header, which compat32 messages take as a value:
    typeshed says str)."""
    value = " ".join(text.split())
    return value if value.isascii() else cast(str, Header(value, "utf-8"))


def _string(content: dict[str, Any], key: str) -> str:
    value = content.get(key)
    return value if isinstance(value, str) else ""


def _subject(content: dict[str, Any], text: str) -> str:
    subject = " ".join(_string(content, "subject").split())
    if subject:
        return subject
    first = " ".join((text.strip().split("\n", 1)[0] if text.strip() else "").split())
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
