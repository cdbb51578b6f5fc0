"""Twilio's callbacks: `X-Twilio-Signature` computed as twilio-python's RequestValidator
computes it (either way round), and each MessageStatus mapped."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from opencomms.connectors.base import Inbound, Receipt
from opencomms.connectors.twilio.callbacks import (
    RECEIPT_STATUSES,
    parse_form,
    reports_of,
    signature,
    signature_matches,
)

TOKEN = "callback-token-3f9"
URL = "https://comms.example.com/webhooks/up?attempt=SMa1"
FORM = [
    ("MessageSid", "SM" + "b" * 32),
    ("MessageStatus", "delivered"),
    ("To", "+14155551234"),
    ("Body", "a b+c&d=é"),
    ("MediaUrl0", ""),
]


def test_our_signature_is_twilios() -> None:
    validator = RequestValidator(TOKEN)
    assert signature(TOKEN, URL, FORM) == validator.compute_signature(URL, dict(FORM))
    assert signature_matches(TOKEN, URL, FORM, validator.compute_signature(URL, dict(FORM)))


@pytest.mark.parametrize(
    ("signed", "called"),
    [
        ("https://comms.example.com:443/webhooks/up", "https://comms.example.com/webhooks/up"),
        ("https://comms.example.com/webhooks/up", "https://comms.example.com:443/webhooks/up"),
    ],
)
def test_the_default_port_either_way(signed: str, called: str) -> None:
    assert signature_matches(TOKEN, called, FORM, signature(TOKEN, signed, FORM))


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        signature("another-token", URL, FORM),
        signature(TOKEN, URL + "x", FORM),
        signature(TOKEN, URL, [*FORM, ("ErrorCode", "30003")]),
        signature(TOKEN, "http://comms.example.com/webhooks/up?attempt=SMa1", FORM),
    ],
)
def test_anything_else_does_not_verify(header: str | None) -> None:
    assert not signature_matches(TOKEN, URL, FORM, header)


def test_the_form_is_read_as_twilio_encodes_it() -> None:
    assert parse_form(b"Body=a+b%2Bc%26d%3D%C3%A9&MediaUrl0=") == [
        ("Body", "a b+c&d=é"),
        ("MediaUrl0", ""),
    ]


@pytest.mark.parametrize(("status", "receipt"), list(RECEIPT_STATUSES.items()))
def test_each_status_is_mapped(status: str, receipt: str | None) -> None:
    form = [("MessageSid", "SM1"), ("MessageStatus", status), ("ErrorCode", "30005")]
    reports = reports_of(form, {"attempt": "SMa1"}, "up")
    assert [r.status for r in reports.receipts] == ([receipt] if receipt else [])
    assert reports.inbound == []


def test_a_failure_carries_twilios_code() -> None:
    form = [("SmsSid", "SM1"), ("SmsStatus", "undelivered"), ("ErrorCode", "30005")]
    assert reports_of(form, {"attempt": "SMa1"}, "up").receipts == [
        Receipt(
            "UNDELIVERED", "SMa1", "SM1", 30005, "Twilio error 30005: Unknown destination handset"
        )
    ]
    form = [("MessageSid", "SM1"), ("MessageStatus", "failed")]
    assert reports_of(form, {}, "up").receipts == [
        Receipt("FAILED", None, "SM1", 30008, "Twilio error 30008: Unknown error")
    ]


def test_an_incoming_message_is_inbound() -> None:
    form = [("MessageSid", "SM9"), ("SmsStatus", "received"), ("From", "whatsapp:+14155551234"),
            ("To", "whatsapp:+14155550100"), ("Body", "STOP")]  # fmt: skip
    assert reports_of(form, {}, "up").inbound == [
        Inbound("up", "WHATSAPP", "+14155551234", "+14155550100", "STOP", "SM9")
    ]
