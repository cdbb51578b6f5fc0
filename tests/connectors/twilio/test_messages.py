"""A submission as Twilio's Messages.json form: To, From or MessagingServiceSid, the
`whatsapp:` prefix, Body and MediaUrl, ValidityPeriod, StatusCallback."""

from __future__ import annotations

import msgspec
import pytest

from opencomms.connectors.base import Submission
from opencomms.connectors.twilio.messages import (
    ContentError,
    callback_url,
    message_form,
    validity_period_s,
)

SUBMISSION = Submission(
    attempt_id="SMa1",
    message_id="comms_message_1",
    operation_id="comms_operation_1",
    account_sid="AC" + "0" * 32,
    channel="SMS",
    from_address="+14155550100",
    to_address="+14155551234",
    content={"text": "Hello"},
)
HOOK = "https://comms.example.com/webhooks/up?attempt=SMa1"


def form(**changes: object) -> list[tuple[str, str]]:
    return message_form(msgspec.structs.replace(SUBMISSION, **changes), "", HOOK)


def test_an_sms() -> None:
    assert form() == [
        ("To", "+14155551234"),
        ("From", "+14155550100"),
        ("Body", "Hello"),
        ("StatusCallback", HOOK),
    ]


def test_an_mms_repeats_media_url_in_order() -> None:
    media = [{"url": "https://x.example/a.jpg"}, {"url": "https://x.example/b.png"}]
    sent = form(content={"text": "Look", "media": media})
    assert [v for k, v in sent if k == "MediaUrl"] == [m["url"] for m in media]
    assert ("Body", "Look") in sent
    assert "Body" not in dict(form(content={"media": media[:1]}))


def test_whatsapp_prefixes_both_addresses_once() -> None:
    sent = dict(form(channel="WHATSAPP", to_address="whatsapp:+14155551234"))
    assert (sent["To"], sent["From"]) == ("whatsapp:+14155551234", "whatsapp:+14155550100")


def test_a_messaging_service_replaces_from() -> None:
    service = "MG" + "1" * 32
    sent = dict(message_form(SUBMISSION, service, HOOK))
    assert sent["MessagingServiceSid"] == service and "From" not in sent


@pytest.mark.parametrize(
    ("valid_for_ms", "seconds"),
    [(0, None), (1, 1), (60_000, 60), (60_001, 61), (10 * 3600 * 1000, 36_000), (10**9, 36_000)],
)
def test_the_validity_period_from_the_fallback_timeout(
    valid_for_ms: int, seconds: int | None
) -> None:
    assert validity_period_s(valid_for_ms) == seconds
    sent = dict(form(valid_for_ms=valid_for_ms))
    assert sent.get("ValidityPeriod") == (None if seconds is None else str(seconds))


def test_the_callback_url_names_the_attempt_quoted() -> None:
    assert (
        callback_url("https://h/webhooks/up", "a b&c") == "https://h/webhooks/up?attempt=a%20b%26c"
    )


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ({"text": ""}, 21602),
        ({}, 21602),
        ({"template": {"name": "x", "language": "en"}}, 63021),
        ({"text": 5}, 63021),
        ({"media": "https://x"}, 63021),
        ({"media": [{"link": "https://x"}]}, 63021),
    ],
)
def test_what_cannot_be_sent_is_refused_before_sending(
    content: dict[str, object], code: int
) -> None:
    with pytest.raises(ContentError) as raised:
        form(content=content)
    assert raised.value.code == code
