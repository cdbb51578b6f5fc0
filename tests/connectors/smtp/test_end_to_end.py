"""Email end to end: a real server with an `smtp` connector, the SMTP test peer as the
relay and its DSNs to the bounce listener; what a user sees through the API, on both
databases (the `setup` fixture: conftest.py)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.connectors.smtp.conftest import EMAIL_SENDER, Setup
from tests.support.polling import all_messages, wait_completed, wait_until
from tests.support.smtp_peer import Bounce


def test_an_sms_that_fails_falls_back_to_email(setup: Setup) -> None:
    failing, fine = "+14155550005", "+14155550010"
    operation = setup.send([[(failing, "PHONE"), ("ada@example.test", "EMAIL")],
                            [(fine, "PHONE"), ("bob@example.test", "EMAIL")]])  # fmt: skip
    wait_completed(setup.api, operation)
    by_phone = {m["to"][0]["address"]: m for m in setup.messages(operation)}

    first, second = by_phone[failing]["attempts"]
    assert (first["from"]["channel"], first["status"]) == ("SMS", "FAILED")
    assert (second["from"]["channel"], second["from"]["address"]) == ("EMAIL", EMAIL_SENDER)
    assert second["to"] == [{"address": "ada@example.test", "channel": "EMAIL"}]
    assert second["status"] == "DELIVERED"  # the relay's DSN: delivered
    [sms] = by_phone[fine]["attempts"]
    assert (sms["from"]["channel"], sms["status"]) == ("SMS", "DELIVERED")
    [mail] = setup.relay.peer.mails
    assert mail.rcpt_to == "ada@example.test"
    assert mail.dsn_mail == {"RET": "HDRS", "ENVID": second["id"]}
    assert mail.dsn_rcpt == {"NOTIFY": "SUCCESS,FAILURE,DELAY"}
    assert mail.message["From"] == EMAIL_SENDER
    assert mail.message.get_content().strip() == "Hello"


def test_a_hard_bounce_an_hour_later_moves_the_message(setup: Setup) -> None:
    gone = "gone@example.test"
    setup.relay.peer.bounce(gone, Bounce("failed", "5.1.1", after_s=3600))
    operation = setup.send([[(gone, "EMAIL")]])
    message_id = wait_until(lambda: all_messages(setup.api, operationId=operation))[0]["id"]
    wait_until(lambda: setup.relay.peer.mails)
    wait_until(lambda: setup.api.get(f"/Messages/{message_id}").json()["status"] == "SENT")
    assert setup.relay.call(setup.relay.peer.deliver_due()) == []  # not an hour yet

    setup.clock.now += 3600
    assert setup.relay.call(setup.relay.peer.deliver_due()) == [250]

    def undelivered() -> dict[str, Any] | None:
        message: dict[str, Any] = setup.api.get(f"/Messages/{message_id}").json()
        return message if message["status"] == "UNDELIVERED" else None

    message = wait_until(undelivered, 20)
    [attempt] = message["attempts"]
    assert (attempt["status"], attempt["error"]["code"]) == ("UNDELIVERED", 30005)
    assert "5.1.1" in attempt["error"]["message"]


def test_the_one_click_unsubscribe_opts_the_address_out(setup: Setup) -> None:
    address = "carol@example.test"
    wait_completed(setup.api, setup.send([[(address, "EMAIL")]]))
    [mail] = setup.relay.peer.mails
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = mail.message["List-Unsubscribe"].strip("<>")
    assert link.startswith(f"{setup.server.url}/webhooks/mail?unsubscribe=")
    assert httpx.get(link).status_code == 200  # a GET (a scanner) changes nothing
    assert setup.api.get("/OptOuts").json()["optOuts"] == []

    answer = httpx.post(link, content=b"List-Unsubscribe=One-Click",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert answer.status_code == 200
    [entry] = setup.api.get("/OptOuts").json()["optOuts"]
    assert entry["address"] == address
    operation = setup.send([[(address, "EMAIL")]])
    wait_completed(setup.api, operation)
    [again] = setup.messages(operation)
    assert (again["status"], again["error"]["code"]) == ("FAILED", 21610)
    assert len(setup.relay.peer.mails) == 1
