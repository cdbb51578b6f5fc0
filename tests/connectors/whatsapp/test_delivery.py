"""WhatsApp end to end: a real server configured with a `whatsapp` connector sending to
the WhatsApp Cloud API test peer, which calls the server's `/webhooks/wa` back with
signed statuses and user messages; what a user sees through the API. The pool is
WhatsApp, then SMS on the simulator, so a failure on WhatsApp shows as a fallback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from opencomms.connectors.registry import CONNECTOR_TYPES
from opencomms.domain.ids import new_account_sid, new_auth_token
from opencomms.settings import load_settings
from tests.connectors.whatsapp.answer_gate import AnswerGate, gate_in_thread
from tests.support.databases import database_url
from tests.support.polling import all_messages, send, wait_completed, wait_until
from tests.support.server import ThreadServer
from tests.support.whatsapp_peer import WhatsAppPeer

TOKEN, SECRET, VERIFY = "EAAG-e2e-token-5f1", "app-secret-e2e-9a0", "verify-e2e-c33"
NUMBER_ID = "106540352242922"
SENDER = "+15550783881"
CONFIG = """\
[connectors.wa]
type = "whatsapp"
phone_number_id = "{number_id}"
access_token_env = "WA_ACCESS_TOKEN"
app_secret_env = "WA_APP_SECRET"
verify_token_env = "WA_VERIFY_TOKEN"
base_url = "{base_url}"
fallback_timeout = "{fallback_timeout}"

[[senders]]
address = "{sender}"
channel = "WHATSAPP"
connector = "wa"

[[senders]]
address = "+15005550006"
channel = "SMS"
connector = "simulator"

[[sender_pools]]
name = "default"
senders = ["WHATSAPP:{sender}", "SMS:+15005550006"]
"""


class Setup:
    def __init__(self, peer: WhatsAppPeer, api: httpx.Client, gate: AnswerGate) -> None:
        self.peer = peer
        self.api = api
        self.gate = gate

    def send_to(self, number: str, **content: Any) -> str:
        body = {
            "to": [{"address": number, "channel": "PHONE"}],
            "content": content or {"text": "Hi"},
        }
        return send(self.api, body)

    def settled(self, operation_id: str) -> dict[str, Any]:
        """The operation's one Message, with its attempts, once the operation completed."""
        wait_completed(self.api, operation_id)
        (listed,) = all_messages(self.api, operationId=operation_id)
        message: dict[str, Any] = self.api.get(f"/Messages/{listed['id']}").json()
        return message


@contextmanager
def running(backend: str, tmp_path: Path, fallback_timeout: str = "30s") -> Iterator[Setup]:
    """The peer, a server whose `wa` connector reaches it through an answer gate (which
    can lose an answer on its way back), and an API client."""
    peer = WhatsAppPeer(
        access_token=TOKEN, app_secret=SECRET, verify_token=VERIFY, phone_number_id=NUMBER_ID,
        display_phone_number=SENDER.removeprefix("+"),
    )  # fmt: skip
    account = (new_account_sid(), new_auth_token())
    with peer, gate_in_thread(peer.port) as gate, database_url(backend, str(tmp_path)) as url:
        path = tmp_path / "opencomms.toml"
        path.write_text(
            CONFIG.format(
                number_id=NUMBER_ID,
                base_url=f"http://127.0.0.1:{gate.port}/v21.0",
                sender=SENDER,
                fallback_timeout=fallback_timeout,
            )
        )
        environ = {
            "WA_ACCESS_TOKEN": TOKEN,
            "WA_APP_SECRET": SECRET,
            "WA_VERIFY_TOKEN": VERIFY,
            "OPENCOMMS_DATABASE_URL": url,
            "OPENCOMMS_ACCOUNT_SID": account[0],
            "OPENCOMMS_AUTH_TOKEN": account[1],
        }
        settings = load_settings(str(path), environ=environ, connector_types=CONNECTOR_TYPES)
        settings.server.secret_key_file = str(tmp_path / "opencomms.key")
        settings.simulator.receipt_latency_ms = [0, 5]
        server = ThreadServer(settings).start()
        peer.webhook_url = f"{server.url}/webhooks/wa"
        try:
            with httpx.Client(base_url=server.url + "/v1", auth=account, timeout=30) as api:
                yield Setup(peer, api, gate)
        finally:
            server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    with running(request.param, tmp_path) as started:
        yield started


@pytest.fixture(params=["sqlite", "postgresql"])
def quick_fallback(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    """A server whose WhatsApp sender falls back after 2 s without a delivered status."""
    with running(request.param, tmp_path, "2s") as started:
        yield started


def attempts(message: dict[str, Any]) -> list[tuple[str, str, int | None]]:
    return [
        (a["from"]["channel"], a["status"], a.get("error", {}).get("code"))
        for a in message["attempts"]
    ]


def test_the_webhook_handshake_answers_meta(setup: Setup) -> None:
    answer = setup.peer.handshake(challenge="4242")
    assert (answer.status_code, answer.text) == (200, "4242")
    assert setup.peer.handshake(verify_token="guess").status_code == 403


def test_a_send_reaches_delivered_through_the_peers_webhooks(setup: Setup) -> None:
    operation_id = setup.send_to("+14155550101", text="Hello Ada")
    message = setup.settled(operation_id)
    assert message["status"] == "DELIVERED"
    assert attempts(message) == [("WHATSAPP", "DELIVERED", None)]
    (accepted,) = setup.peer.accepted
    assert (accepted.to, accepted.body) == ("14155550101", "Hello Ada")
    attempt_id = message["attempts"][0]["id"]
    assert accepted.biz_opaque_callback_data == attempt_id
    assert setup.peer.posted_count(attempt_id) == 1


def test_an_undeliverable_number_falls_back_to_the_next_sender(setup: Setup) -> None:
    setup.peer.fail("+14155550102", 131026)
    message = setup.settled(setup.send_to("+14155550102"))
    assert message["status"] == "DELIVERED"
    assert attempts(message) == [("WHATSAPP", "UNDELIVERED", 63024), ("SMS", "DELIVERED", None)]


def test_a_send_refused_at_once_falls_back_to_the_next_sender(setup: Setup) -> None:
    setup.peer.refuse("+14155550103", 131047)
    message = setup.settled(setup.send_to("+14155550103"))
    assert attempts(message) == [("WHATSAPP", "FAILED", 63016), ("SMS", "DELIVERED", None)]


def test_a_throughput_refusal_is_sent_again_not_failed(setup: Setup) -> None:
    setup.peer.refuse("+14155550104", 130429)
    message = setup.settled(setup.send_to("+14155550104"))
    assert attempts(message) == [("WHATSAPP", "DELIVERED", None)]
    attempt_id = message["attempts"][0]["id"]
    assert (setup.peer.posted_count(attempt_id), setup.peer.accepted_count(attempt_id)) == (2, 1)


@pytest.mark.parametrize("order", [("sent", "read"), ("read", "delivered", "sent")])
def test_a_read_without_delivered_or_out_of_order_never_goes_backwards(
    setup: Setup, order: tuple[str, ...]
) -> None:
    setup.peer.statuses("+14155550105", *order)
    message = setup.settled(setup.send_to("+14155550105"))
    assert message["status"] == "READ"
    assert attempts(message) == [("WHATSAPP", "READ", None)]


def test_a_status_before_the_answer_to_the_send_is_applied(setup: Setup) -> None:
    setup.peer.statuses("+14155550106", "delivered", before_answer=True)
    message = setup.settled(setup.send_to("+14155550106"))
    assert attempts(message) == [("WHATSAPP", "DELIVERED", None)]


def test_a_stop_reply_puts_the_user_on_the_opt_out_list(setup: Setup) -> None:
    setup.settled(setup.send_to("+14155550107"))
    delivery = setup.peer.push_user_message("+14155550107", "STOP")
    setup.peer.wait_settled()
    assert delivery.delivered
    opted = wait_until(lambda: setup.api.get("/OptOuts").json().get("optOuts"))
    assert [entry["address"] for entry in opted] == ["+14155550107"]


def test_a_send_whose_answer_was_lost_is_never_sent_again_and_its_statuses_find_it(
    setup: Setup,
) -> None:
    """Meta took it, the answer never came back: the attempt is in doubt, so it is
    recovered as SENT (never resent), and its statuses, carrying the attempt id, move it."""
    setup.gate.lose_next()
    message = setup.settled(setup.send_to("+14155550108"))
    assert attempts(message) == [("WHATSAPP", "DELIVERED", None)]
    attempt_id = message["attempts"][0]["id"]
    assert setup.peer.posted_count(attempt_id) == 1


def test_a_lost_answer_without_statuses_falls_back_after_the_fallback_timeout(
    quick_fallback: Setup,
) -> None:
    setup = quick_fallback
    setup.peer.statuses("+14155550109")  # Meta took it, and says nothing more
    setup.gate.lose_next()
    message = setup.settled(setup.send_to("+14155550109"))
    assert [(channel, status) for channel, status, _ in attempts(message)] == [
        ("WHATSAPP", "SENT"),
        ("SMS", "DELIVERED"),
    ]
    assert setup.peer.posted_count(message["attempts"][0]["id"]) == 1
