"""10,000 emails through the smtp connector to the SMTP test peer: every one reaches the
relay exactly once, and is DELIVERED by the relay's DSN (a correctness test: the rate
is printed, never asserted; docs/smtp.md has the figure)."""

from __future__ import annotations

import time
from collections import Counter

from tests.connectors.smtp.conftest import Setup
from tests.support.polling import operation, wait_until

COUNT = 10_000


def test_ten_thousand_emails_reach_the_relay_exactly_once(setup: Setup) -> None:
    addresses = [f"user{n}@example.test" for n in range(COUNT)]
    started = time.monotonic()
    operation_id = setup.send([[(address, "EMAIL")] for address in addresses], text="Hi")

    def completed() -> dict[str, int] | None:
        body = operation(setup.api, operation_id)
        return body["stats"] if body["status"] == "COMPLETED" else None

    peer = setup.relay.peer
    wait_until(lambda: len(peer.mails) >= COUNT, timeout=900, interval=0.1)
    at_relay = time.monotonic() - started
    stats = wait_until(completed, timeout=900, interval=1)
    elapsed = time.monotonic() - started
    assert stats["delivered"] == stats["total"] == COUNT, stats
    assert Counter(mail.rcpt_to for mail in peer.mails) == Counter(addresses)
    assert len({mail.dsn_mail["ENVID"] for mail in peer.mails}) == COUNT
    assert set(peer.report_replies) == {250} and len(peer.report_replies) == COUNT
    print(
        f"\n{COUNT} emails: all at the relay {at_relay:.1f} s after the POST "
        f"({COUNT / at_relay:.0f}/s), COMPLETED with every DSN stored after {elapsed:.1f} s"
    )
