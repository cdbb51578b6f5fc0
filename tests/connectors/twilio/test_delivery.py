"""Twilio end to end: a real server configured with a `twilio` connector sending to the
Twilio Messaging test peer, which calls the server's `/webhooks/up` back with signed
status callbacks; what a user sees through the API. The pool is SMS on Twilio, then SMS
on the simulator (so a failure on Twilio shows as a fallback), then WhatsApp on Twilio
(the only sender a WHATSAPP recipient can be reached by)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from opencomms.connectors.registry import CONNECTOR_TYPES
from opencomms.domain.ids import new_account_sid, new_auth_token
from opencomms.settings import load_settings
from tests.connectors.whatsapp.answer_gate import AnswerGate, gate_in_thread
from tests.support.databases import database_url
from tests.support.polling import all_messages, send, wait_completed, wait_until
from tests.support.server import ThreadServer, free_port
from tests.support.twilio_peer import Step, TwilioPeer

ACCOUNT = "AC" + "e2" * 16
TOKEN = "auth-token-e2e-4b7"
SMS_SENDER, WA_SENDER, SIMULATED = "+12065558844", "+15550783881", "+15005550006"
CONFIG = f"""\
[connectors.up]
type = "twilio"
account_sid = "{ACCOUNT}"
auth_token_env = "TWILIO_AUTH_TOKEN"
base_url = "{{base_url}}"
fallback_timeout = "{{fallback_timeout}}"

[[senders]]
address = "{SMS_SENDER}"
channel = "SMS"
connector = "up"

[[senders]]
address = "{SIMULATED}"
channel = "SMS"
connector = "simulator"

[[senders]]
address = "{WA_SENDER}"
channel = "WHATSAPP"
connector = "up"

[[sender_pools]]
name = "default"
senders = ["SMS:{SMS_SENDER}", "SMS:{SIMULATED}", "WHATSAPP:{WA_SENDER}"]
"""


class Setup:
    def __init__(self, peer: TwilioPeer, api: httpx.Client, gate: AnswerGate, url: str) -> None:
        self.peer = peer
        self.api = api
        self.gate = gate
        self.url = url

    def send_to(self, number: str, channel: str = "PHONE", **content: Any) -> str:
        body = {
            "to": [{"address": number, "channel": channel}],
            "content": content or {"text": "Hi"},
        }
        return send(self.api, body)

    def message(self, operation_id: str) -> dict[str, Any]:
        (listed,) = wait_until(lambda: all_messages(self.api, operationId=operation_id))
        message: dict[str, Any] = self.api.get(f"/Messages/{listed['id']}").json()
        return message

    def settled(self, operation_id: str) -> dict[str, Any]:
        """The operation's one Message, once the operation completed and every callback
        the peer had planned was answered."""
        wait_completed(self.api, operation_id)
        self.peer.wait_settled(30)
        return self.message(operation_id)


@contextmanager
def running(backend: str, tmp_path: Path, fallback_timeout: str = "30s") -> Iterator[Setup]:
    """The peer, a server whose `up` connector reaches it through an answer gate (which
    can lose an answer on its way back), and an API client."""
    peer = TwilioPeer(account_sid=ACCOUNT, auth_token=TOKEN)
    account = (new_account_sid(), new_auth_token())
    port = free_port()
    with peer, gate_in_thread(peer.port) as gate, database_url(backend, str(tmp_path)) as url:
        path = tmp_path / "opencomms.toml"
        base_url = f"http://127.0.0.1:{gate.port}"
        path.write_text(CONFIG.format(base_url=base_url, fallback_timeout=fallback_timeout))
        environ = {
            "TWILIO_AUTH_TOKEN": TOKEN,
            "OPENCOMMS_DATABASE_URL": url,
            "OPENCOMMS_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "OPENCOMMS_ACCOUNT_SID": account[0],
            "OPENCOMMS_AUTH_TOKEN": account[1],
        }
        settings = load_settings(str(path), environ=environ, connector_types=CONNECTOR_TYPES)
        settings.server.secret_key_file = str(tmp_path / "opencomms.key")
        settings.simulator.receipt_latency_ms = [0, 5]
        server = ThreadServer(settings, port=port).start()
        try:
            with httpx.Client(base_url=server.url + "/v1", auth=account, timeout=30) as api:
                yield Setup(peer, api, gate, server.url)
        finally:
            server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    with running(request.param, tmp_path) as started:
        yield started


@pytest.fixture(params=["sqlite", "postgresql"])
def quick_fallback(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    """A server whose Twilio senders fall back after 2 s without a delivered status."""
    with running(request.param, tmp_path, "2s") as started:
        yield started


def attempts(message: dict[str, Any]) -> list[tuple[str, str, str, int | None]]:
    return [
        (a["from"]["address"], a["from"]["channel"], a["status"], a.get("error", {}).get("code"))
        for a in message["attempts"]
    ]


def test_an_sms_reaches_twilio_with_its_fields_and_is_delivered(setup: Setup) -> None:
    message = setup.settled(setup.send_to("+14155550101", text="Hello Ada"))
    assert message["status"] == "DELIVERED"
    assert attempts(message) == [(SMS_SENDER, "SMS", "DELIVERED", None)]
    (accepted,) = setup.peer.accepted
    out = accepted.outgoing
    assert (out.to, out.from_, out.body, out.media) == ("+14155550101", SMS_SENDER, "Hello Ada", [])
    attempt_id = message["attempts"][0]["id"]
    callback = urlsplit(out.status_callback or "")
    assert f"{callback.scheme}://{callback.netloc}{callback.path}" == f"{setup.url}/webhooks/up"
    assert dict(parse_qsl(callback.query)) == {"attempt": attempt_id}
    assert out.validity_period_s == 30  # the fallback timeout: the simulator's SMS follows
    assert [c.answered for c in setup.peer.callbacks] == [200, 200]
    assert setup.peer.posted_by_attempt[attempt_id] == 1


def test_an_mms_carries_its_media(setup: Setup) -> None:
    media = [{"url": "https://cdn.example.com/a.jpg"}, {"url": "https://cdn.example.com/b.png"}]
    message = setup.settled(setup.send_to("+14155550102", text="Look", media=media))
    assert attempts(message) == [(SMS_SENDER, "SMS", "DELIVERED", None)]
    (accepted,) = setup.peer.accepted
    assert accepted.sid.startswith("MM")
    assert (accepted.outgoing.body, accepted.outgoing.media) == ("Look", [m["url"] for m in media])


def test_a_whatsapp_recipient_goes_with_the_whatsapp_prefix_and_is_read(setup: Setup) -> None:
    setup.peer.statuses("+14155550103", "sent", "delivered", "read")
    operation_id = setup.send_to("+14155550103", "WHATSAPP", text="Hola")
    wait_until(lambda: setup.message(operation_id)["status"] == "READ")
    message = setup.message(operation_id)
    assert attempts(message) == [(WA_SENDER, "WHATSAPP", "READ", None)]
    (accepted,) = setup.peer.accepted
    assert (accepted.outgoing.to, accepted.outgoing.from_) == (
        "whatsapp:+14155550103",
        f"whatsapp:{WA_SENDER}",
    )
    assert accepted.outgoing.validity_period_s is None  # no candidate follows


@pytest.mark.parametrize("code", [21211, 21610, 21614, 21408])
def test_a_refusal_fails_the_attempt_and_the_fallback_moves_on(setup: Setup, code: int) -> None:
    setup.peer.refuse("+14155550104", code)
    message = setup.settled(setup.send_to("+14155550104"))
    assert message["status"] == "DELIVERED"
    assert attempts(message) == [
        (SMS_SENDER, "SMS", "FAILED", code),
        (SIMULATED, "SMS", "DELIVERED", None),
    ]


@pytest.mark.parametrize("code", [20429, 20503])
def test_a_throttling_refusal_is_sent_again_not_failed(setup: Setup, code: int) -> None:
    setup.peer.refuse("+14155550105", code, retry_after="1")
    message = setup.settled(setup.send_to("+14155550105"))
    assert attempts(message) == [(SMS_SENDER, "SMS", "DELIVERED", None)]
    attempt_id = message["attempts"][0]["id"]
    assert [s.status_code for s in setup.peer.sends] == [429 if code == 20429 else 503, 201]
    assert (setup.peer.posted_by_attempt[attempt_id], setup.peer.accepted_twice()) == (2, {})


def test_an_undelivered_callback_moves_the_fallback_on(setup: Setup) -> None:
    setup.peer.statuses("+14155550106", "sent", Step("undelivered", 0, 30003))
    message = setup.settled(setup.send_to("+14155550106"))
    assert attempts(message) == [
        (SMS_SENDER, "SMS", "UNDELIVERED", 30003),
        (SIMULATED, "SMS", "DELIVERED", None),
    ]


@pytest.mark.parametrize(
    "order",
    [("delivered", Step("sent", 0.5)), (Step("sending", 0.2), "delivered", "queued", "sent")],
    ids=["sent late after delivered", "queued and sending around delivered"],
)
def test_late_and_out_of_order_callbacks_never_move_a_message_backwards(
    setup: Setup, order: tuple[str | Step, ...]
) -> None:
    setup.peer.statuses("+14155550107", *order)
    message = setup.settled(setup.send_to("+14155550107"))
    assert message["status"] == "DELIVERED"
    assert attempts(message) == [(SMS_SENDER, "SMS", "DELIVERED", None)]
    assert all(c.answered == 200 for c in setup.peer.callbacks)


def test_a_forged_callback_is_refused_and_changes_nothing(setup: Setup) -> None:
    message = setup.settled(setup.send_to("+14155550108"))
    (accepted,) = setup.peer.accepted
    url = accepted.outgoing.status_callback or ""
    form = [("MessageSid", accepted.sid), ("MessageStatus", "failed"), ("ErrorCode", "30007")]
    forged = setup.peer.push(url, form, token="not-the-auth-token")
    unsigned = setup.peer.push(url, form, signature="")
    assert forged.done.wait(10) and unsigned.done.wait(10)
    assert (forged.answered, unsigned.answered) == (403, 401)
    after: dict[str, Any] = setup.api.get(f"/Messages/{message['id']}").json()
    assert after["status"] == "DELIVERED"
    assert attempts(after) == [(SMS_SENDER, "SMS", "DELIVERED", None)]


def test_a_send_whose_answer_was_lost_is_never_sent_again_and_its_callbacks_find_it(
    setup: Setup,
) -> None:
    """Twilio took it, the answer never came back: the attempt is in doubt, so it is
    recovered as SENT (never resent), and its callbacks, whose URL names the attempt,
    move it."""
    setup.gate.lose_next()
    message = setup.settled(setup.send_to("+14155550109"))
    assert attempts(message) == [(SMS_SENDER, "SMS", "DELIVERED", None)]
    assert setup.peer.posted_by_attempt[message["attempts"][0]["id"]] == 1


def test_a_lost_answer_without_callbacks_falls_back_after_the_fallback_timeout(
    quick_fallback: Setup,
) -> None:
    setup = quick_fallback
    setup.peer.statuses("+14155550110")  # Twilio took it, and says nothing more
    setup.gate.lose_next()
    message = setup.settled(setup.send_to("+14155550110"))
    assert [(status) for _, _, status, _ in attempts(message)] == ["SENT", "DELIVERED"]
    assert setup.peer.posted_by_attempt[message["attempts"][0]["id"]] == 1


def test_a_stop_reply_puts_the_recipient_on_the_opt_out_list(setup: Setup) -> None:
    setup.settled(setup.send_to("+14155550111"))
    incoming = setup.peer.push_incoming(
        f"{setup.url}/webhooks/up", "+14155550111", SMS_SENDER, "STOP"
    )
    assert incoming.done.wait(10) and incoming.answered == 200
    opted = wait_until(lambda: setup.api.get("/OptOuts").json().get("optOuts"))
    assert [entry["address"] for entry in opted] == ["+14155550111"]


def test_a_callback_after_the_fallback_moved_on_is_recorded_on_its_own_attempt(
    quick_fallback: Setup,
) -> None:
    """Twilio's `delivered` comes 6 s after `sent`, when the 2 s fallback timeout has
    already sent the SMS through the simulator: the late report lands on the Twilio
    attempt, and the Message, DELIVERED already, stays so."""
    setup = quick_fallback
    setup.peer.statuses("+14155550112", "sent", Step("delivered", 6.0))
    operation_id = setup.send_to("+14155550112")
    wait_completed(setup.api, operation_id)
    early = setup.message(operation_id)
    assert [status for _, _, status, _ in attempts(early)] == ["SENT", "DELIVERED"]
    setup.peer.wait_settled(30)
    late = setup.message(operation_id)
    assert late["status"] == "DELIVERED"
    assert attempts(late) == [
        (SMS_SENDER, "SMS", "DELIVERED", None),
        (SIMULATED, "SMS", "DELIVERED", None),
    ]
