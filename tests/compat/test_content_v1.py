"""twilio-python's `client.content.v1.contents`, unchanged, against opencomms."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client
from twilio.rest.content.v1.content import ContentInstance, ContentList

SID = re.compile(r"HX[0-9a-f]{32}\Z")


def text_and_card(name: str) -> ContentList.ContentCreateRequest:
    """A request built with the library's own typed models, as its docs show."""
    return ContentList.ContentCreateRequest({
        "friendly_name": name,
        "language": "en",
        "variables": {"1": "there"},
        "types": ContentList.Types({
            "twilio/text": ContentList.TwilioText({"body": "Hi {{1}}"}),
            "twilio/media": ContentList.TwilioMedia({
                "body": "Look", "media": ["https://cdn.example.com/a.png"],
            }),
            "twilio/card": ContentList.TwilioCard({
                "title": "Hi {{1}}",
                "actions": [ContentList.CardAction({
                    "type": "URL", "title": "Open", "url": "https://example.com/{{1}}",
                })],
            }),
        }),
    })  # fmt: skip


def test_create_fetch_and_delete(twilio_client: Client, account: tuple[str, str]) -> None:
    contents = twilio_client.content.v1.contents

    made = contents.create(text_and_card("welcome"))
    fetched = contents(made.sid).fetch()

    assert isinstance(made, ContentInstance) and SID.match(made.sid or "")
    assert (fetched.sid, fetched.account_sid) == (made.sid, account[0])
    assert (fetched.friendly_name, fetched.language) == ("welcome", "en")
    assert fetched.variables == {"1": "there"}
    assert fetched.types is not None
    assert fetched.types["twilio/text"] == {"body": "Hi {{1}}"}
    assert fetched.types["twilio/media"]["media"] == ["https://cdn.example.com/a.png"]
    assert fetched.types["twilio/card"]["actions"][0]["url"] == "https://example.com/{{1}}"
    assert fetched.date_created is not None
    assert abs(datetime.now(UTC) - fetched.date_created) < timedelta(minutes=1)
    assert fetched.url is not None and fetched.url.endswith(f"/v1/Content/{made.sid}")
    assert made.delete() is True
    with pytest.raises(TwilioRestException) as gone:
        contents(made.sid).fetch()
    assert (gone.value.status, gone.value.code) == (404, 20404)
    with pytest.raises(TwilioRestException) as again:
        contents(made.sid).delete()
    assert again.value.status == 404


def test_list_stream_and_page_follow_the_servers_pages(twilio_client: Client) -> None:
    contents = twilio_client.content.v1.contents
    sids = [contents.create(text_and_card(f"t{n}")).sid for n in range(5)]

    listed = contents.list(page_size=2)  # three pages, by next_page_url
    limited = contents.list(limit=3, page_size=2)
    streamed = list(contents.stream(page_size=4))
    first = contents.page(page_size=2)
    second = first.next_page()

    newest_first = sids[::-1]
    assert [c.sid for c in listed] == newest_first
    assert [c.sid for c in limited] == newest_first[:3]
    assert [c.sid for c in streamed] == newest_first
    assert [c.sid for c in first] == newest_first[:2]
    assert second is not None and [c.sid for c in second] == newest_first[2:4]


def test_a_refused_template_raises_with_the_servers_reason(twilio_client: Client) -> None:
    contents = twilio_client.content.v1.contents
    request = ContentList.ContentCreateRequest({"types": {"twilio/text": {"body": "Hi"}}})

    with pytest.raises(TwilioRestException) as refused:
        contents.create(request)

    assert (refused.value.status, refused.value.code) == (400, 20001)
    assert "language" in refused.value.msg
    assert contents.list() == []


def test_every_request_went_to_the_local_server(twilio_client: Client) -> None:
    twilio_client.content.v1.contents.list()

    sent = twilio_client.http_client.urls  # type: ignore[attr-defined]
    assert sent and all(url.startswith("http://127.0.0.1:") for url in sent)
