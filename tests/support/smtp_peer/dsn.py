"""RFC 3464 delivery status notifications, as a relay writes them: a multipart/report
(report-type=delivery-status) of a human-readable part, the message/delivery-status
fields (per message, then per recipient) and the returned headers (RET=HDRS)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid

__all__ = ["DsnReport", "delivery_report"]

REPORTING_MTA = "peer.opencomms.test"


@dataclass(frozen=True)
class DsnReport:
    """One recipient's fate; `envelope_id` the ENVID given at MAIL FROM (None: left
    out, as a relay that did not take the DSN extension leaves it)."""

    recipient: str
    action: str = "failed"  # failed, delayed, delivered, relayed, expanded
    status: str = "5.1.1"
    diagnostic: str = "smtp; 550 5.1.1 <{recipient}>: Recipient address rejected"
    envelope_id: str | None = None
    returned_headers: str = ""  # the original message's headers, RET=HDRS


def delivery_report(report: DsnReport, bounce_to: str, arrival: float) -> bytes:
    """The DSN's bytes, to `bounce_to` (the original MAIL FROM), the original mail
    having arrived at `arrival` (seconds since the epoch)."""
    boundary = "dsn-boundary-" + make_msgid().strip("<>").split("@")[0].replace(".", "")
    arrived = format_datetime(datetime.fromtimestamp(arrival, UTC))
    per_message = [f"Reporting-MTA: dns; {REPORTING_MTA}", f"Arrival-Date: {arrived}"]
    if report.envelope_id is not None:
        per_message.insert(0, f"Original-Envelope-Id: {report.envelope_id}")
    per_recipient = [
        f"Final-Recipient: rfc822; {report.recipient}",
        f"Action: {report.action}",
        f"Status: {report.status}",
    ]
    if report.diagnostic:
        per_recipient.append(
            "Diagnostic-Code: " + report.diagnostic.format(recipient=report.recipient)
        )
    human = f"Your message to <{report.recipient}> could not be delivered: {report.action}."
    lines = [
        f"From: Mail Delivery System <MAILER-DAEMON@{REPORTING_MTA}>",
        f"To: <{bounce_to}>",
        "Subject: Delivery Status Notification",
        f"Date: {format_datetime(datetime.now(UTC))}",
        f"Message-ID: {make_msgid(domain=REPORTING_MTA)}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        human,
        "",
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "",
        *per_message,
        "",
        *per_recipient,
        "",
        f"--{boundary}",
        "Content-Type: text/rfc822-headers",
        "",
        report.returned_headers.strip(),
        "",
        f"--{boundary}--",
        "",
    ]
    return "\r\n".join(lines).encode()
