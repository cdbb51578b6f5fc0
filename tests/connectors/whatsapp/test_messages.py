"""A submission's content as the Cloud API message that sends it."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from opencomms.connectors.base import Submission
from opencomms.connectors.whatsapp.messages import ContentError, cloud_message, media_type

SUBMISSION = Submission(
    attempt_id="SM" + "a1" * 16,
    message_id="comms_message_x",
    operation_id="comms_operation_x",
    account_sid="AC" + "0" * 32,
    channel="WHATSAPP",
    from_address="+15550783881",
    to_address="+16505551234",
    content={"text": "Hello"},
)


def built(content: dict[str, Any], **changes: str) -> dict[str, Any]:
    return cloud_message(msgspec.structs.replace(SUBMISSION, content=content, **changes))


def test_a_text_goes_to_the_number_without_its_plus_and_carries_the_attempt_id() -> None:
    assert built({"text": "Hello"}) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "16505551234",
        "biz_opaque_callback_data": SUBMISSION.attempt_id,
        "type": "text",
        "text": {"body": "Hello", "preview_url": False},
    }


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://cdn.example.com/a/photo.JPG", "image"),
        ("https://cdn.example.com/clip.mp4?sig=1", "video"),
        ("https://cdn.example.com/voice.ogg", "audio"),
        ("https://cdn.example.com/invoice.pdf", "document"),
        ("https://cdn.example.com/render?id=7", "image"),  # no extension: image
    ],
)
def test_a_media_type_comes_from_the_urls_extension(url: str, kind: str) -> None:
    assert media_type(url) == kind


def test_a_media_is_sent_by_its_link_with_the_text_as_caption() -> None:
    message = built({"text": "Your invoice", "media": [{"url": "https://x.example/i.pdf"}]})
    assert message["type"] == "document"
    assert message["document"] == {"link": "https://x.example/i.pdf", "caption": "Your invoice"}


def test_more_media_than_one_are_linked_in_the_caption_of_the_first() -> None:
    message = built(
        {
            "text": "Two",
            "media": [{"url": "https://x.example/a.png"}, {"url": "https://x.example/b.png"}],
        }
    )
    assert message["image"] == {
        "link": "https://x.example/a.png",
        "caption": "Two\nhttps://x.example/b.png",
    }


def test_a_media_without_text_has_no_caption() -> None:
    assert built({"media": [{"url": "https://x.example/v.ogg"}]})["audio"] == {
        "link": "https://x.example/v.ogg"
    }


def test_a_template_is_sent_with_its_language_code_and_components() -> None:
    components = [{"type": "body", "parameters": [{"type": "text", "text": "Ada"}]}]
    message = built(
        {"template": {"name": "order_ready", "language": "en_US", "components": components}}
    )
    assert message["type"] == "template"
    assert message["template"] == {
        "name": "order_ready",
        "language": {"code": "en_US"},
        "components": components,
    }
    spelled = built({"template": {"name": "hi", "language": {"code": "pt_BR"}}})
    assert spelled["template"] == {"name": "hi", "language": {"code": "pt_BR"}}


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ({}, "nothing to send"),
        ({"text": ""}, "nothing to send"),
        ({"text": 7}, "text must be a string"),
        ({"text": "x" * 4097}, "4096 characters"),
        ({"media": [{"href": "https://x.example/a.png"}]}, "media is a list of {url}"),
        ({"media": "https://x.example/a.png"}, "media is a list of {url}"),
        (
            {"text": "hi", "media": [{"url": "https://x.example/v.mp3"}]},
            "audio message takes no text",
        ),
        ({"text": "x" * 1025, "media": [{"url": "https://x.example/a.png"}]}, "1024 characters"),
        ({"template": {"name": "hi"}}, "language code"),
        ({"template": "hi"}, "template is {name, language"),
        ({"template": {"name": "hi", "language": "en", "components": {}}}, "components are a list"),
    ],
)
def test_content_the_cloud_api_cannot_take_is_refused_with_why(
    content: dict[str, Any], why: str
) -> None:
    with pytest.raises(ContentError, match=why.replace("{", r"\{").replace("}", r"\}")):
        built(content)


def test_a_recipient_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(ContentError, match="not a phone number"):
        built({"text": "hi"}, to_address="someone@example.com")
