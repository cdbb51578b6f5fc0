"""Delivery reports read: RFC 3464 DSNs as relays write them, and what is not one."""

from __future__ import annotations

from email import message_from_bytes

from opencomms.connectors.base import Receipt
from opencomms.connectors.smtp.dsn import Bounce, bounce_receipts, dsn_bounces
from tests.support.smtp_peer import DsnReport, delivery_report

ATTEMPT = "SM" + "cd" * 16
HEADERS = f"From: news@acme.test\r\nMessage-ID: <{ATTEMPT}@acme.test>\r\nSubject: hi"


def _read(report: DsnReport) -> list[Bounce] | None:
    return dsn_bounces(message_from_bytes(delivery_report(report, "bounces@acme.test", 0)))


def test_a_failed_report_by_its_envelope_id() -> None:
    [bounce] = _read(DsnReport("ada@example.test", "failed", "5.2.2", envelope_id=ATTEMPT)) or []
    assert (bounce.envelope_id, bounce.action, bounce.status) == (ATTEMPT, "failed", "5.2.2")
    assert bounce.recipient == "ada@example.test"
    [receipt] = bounce_receipts([bounce])
    assert receipt == Receipt(
        "UNDELIVERED", ATTEMPT, error_code=30003,
        error_message=f"SMTP 5.2.2: {bounce.diagnostic}",
    )  # fmt: skip


def test_found_by_the_returned_message_id_when_there_is_no_envelope_id() -> None:
    report = DsnReport("ada@example.test", "failed", "5.1.1", returned_headers=HEADERS)
    [bounce] = _read(report) or []
    assert bounce.envelope_id == ATTEMPT


def test_actions() -> None:
    for action, status in (("delivered", "DELIVERED"), ("relayed", "DELIVERED"),
                           ("expanded", "DELIVERED")):  # fmt: skip
        assert bounce_receipts([Bounce(ATTEMPT, action, "2.0.0")]) == [Receipt(status, ATTEMPT)]
    assert bounce_receipts([Bounce(ATTEMPT, "delayed", "4.4.1")]) == []


def test_what_is_not_a_report_of_ours() -> None:
    assert _read(DsnReport("ada@example.test", "failed", "5.1.1")) is None  # names no attempt
    assert _read(DsnReport("a@x.test", envelope_id="someone-elses-id")) is None
    plain = message_from_bytes(b"From: a@b\r\nSubject: Out of office\r\n\r\nBack Monday\r\n")
    assert dsn_bounces(plain) is None
    other_report = message_from_bytes(
        b'Content-Type: multipart/report; report-type=disposition-notification; boundary="b"'
        b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nread\r\n--b--\r\n"
    )
    assert dsn_bounces(other_report) is None
