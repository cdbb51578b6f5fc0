"""The mail a submission becomes: headers, parts, media as links, one-click headers."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

import pytest

from opencomms.connectors.base import Submission
from opencomms.connectors.smtp.mime import ContentError, email_message, wire_bytes

ATTEMPT = "SM" + "ab" * 16


def _mail(content: dict[str, Any], unsubscribe: str | None = None) -> EmailMessage:
    submission = Submission(ATTEMPT, "m", "o", "AC1", "EMAIL", "news@acme.test",
                            "ada@example.test", content)  # fmt: skip
    data = wire_bytes(email_message(submission, unsubscribe))
    return cast(EmailMessage, message_from_bytes(data, policy=policy.default))


def _text(part: EmailMessage | None) -> str:
    assert part is not None
    content: str = part.get_content()
    return content.replace("\r\n", "\n").rstrip("\n")


def test_a_text_mail() -> None:
    mail = _mail({"subject": "Your order", "text": "It shipped.\nThanks"})
    assert (mail["From"], mail["To"], mail["Subject"]) == (
        "news@acme.test", "ada@example.test", "Your order",
    )  # fmt: skip
    assert mail["Message-ID"] == f"<{ATTEMPT}@acme.test>"
    assert mail.get_content_type() == "text/plain"
    assert _text(mail) == "It shipped.\nThanks"
    assert mail["List-Unsubscribe"] is None


def test_the_subject_is_the_texts_first_line_when_none_is_given() -> None:
    assert _mail({"text": "Short one\nmore"})["Subject"] == "Short one"
    long = "word " * 40
    subject = _mail({"text": long})["Subject"]
    assert len(subject) == 78 and subject.endswith("…")


def test_html_is_an_alternative_and_media_are_links_in_both() -> None:
    mail = _mail({"text": "See the picture", "html": "<html><body><p>See</p></body></html>",
                  "media": [{"url": "https://cdn.example/a.png?x=1&y=2"}]})  # fmt: skip
    assert mail.get_content_type() == "multipart/alternative"
    plain, html = _text(mail.get_body(("plain",))), _text(mail.get_body(("html",)))
    assert plain == "See the picture\n\nhttps://cdn.example/a.png?x=1&y=2"
    assert '<a href="https://cdn.example/a.png?x=1&amp;y=2">' in html
    assert html.rstrip().endswith("</ul></body></html>")
    assert not any(part.get_content_disposition() == "attachment" for part in mail.walk())


def test_unicode_and_no_header_injection() -> None:
    mail = _mail({"subject": "Crème brûlée\r\nBcc: victim@example.test", "text": "Voilà"})
    assert mail["Subject"] == "Crème brûlée Bcc: victim@example.test"
    assert mail["Bcc"] is None
    assert _text(mail) == "Voilà"


def test_one_click_headers_stay_on_one_line() -> None:
    url = "https://comms.example/webhooks/mail?unsubscribe=" + "A" * 300
    mail = _mail({"text": "hi"}, unsubscribe=url)
    assert mail["List-Unsubscribe"] == f"<{url}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_an_empty_mail_is_refused() -> None:
    with pytest.raises(ContentError):
        _mail({"subject": "Nothing else"})
