"""RCS end to end: a real server with an `rbm` connector, the RBM test peer calling its
webhook back; what a user sees through the API, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from opencomms.connectors.registry import CONNECTOR_TYPES
from opencomms.domain.ids import new_account_sid, new_auth_token
from opencomms.engine import runtime
from opencomms.settings import load_settings
from tests.support.databases import database_url
from tests.support.polling import all_messages, send, wait_completed, wait_until
from tests.support.rbm_peer import RbmPeer
from tests.support.server import ThreadServer

AGENT = "acme_agent"
SMS_SENDER = "+15005550006"
CONFIG = """\
[connectors.rcs]
type = "rbm"
agent_id = "{agent}"
service_account_file = "{key_file}"
client_token_env = "RBM_CLIENT_TOKEN"
base_url = "{base_url}"
fallback_timeout = "2s"
receipt_wait = "30s"

[[senders]]
address = "{agent}"
channel = "RCS"
connector = "rcs"

[[senders]]
address = "{sms}"
channel = "SMS"
connector = "simulator"

[[sender_pools]]
name = "rcs first"
senders = ["RCS:{agent}", "SMS:{sms}"]
"""


@dataclass
class Setup:
    peer: RbmPeer
    api: httpx.Client

    def send(self, *numbers: str, text: str = "Hello") -> str:
        pools = self.api.get("/SenderPools").json()["senderPools"]
        pool = next(pool for pool in pools if pool["name"] == "rcs first")
        to = [{"address": number, "channel": "PHONE"} for number in numbers]
        body = {"to": to, "content": {"text": text}, "from": {"senderPoolId": pool["id"]}}
        return send(self.api, body)

    def messages(self, operation_id: str) -> dict[str, dict[str, Any]]:
        """By recipient, each Message with its attempts, once the operation completed."""
        wait_completed(self.api, operation_id)
        found = {}
        for message in all_messages(self.api, operationId=operation_id):
            detail: dict[str, Any] = self.api.get(f"/Messages/{message['id']}").json()
            found[detail["to"][0]["address"]] = detail
        return found


@pytest.fixture(params=["sqlite", "postgresql"])
def setup(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Setup]:
    # RBM reports DELIVERED as soon as it answers the send: on PostgreSQL the receipt and
    # the answer may commit side by side, and the receipt then waits for the sweep of
    # early receipts (every 5 s), longer than these tests' 2 s fallback timeout
    monkeypatch.setattr(runtime, "EARLY_RECEIPT_SWEEP_S", 0.2)
    account = (new_account_sid(), new_auth_token())
    with RbmPeer(tmp_path, AGENT) as peer, database_url(request.param, str(tmp_path)) as url:
        path = tmp_path / "opencomms.toml"
        path.write_text(
            CONFIG.format(agent=AGENT, key_file=peer.key_file, base_url=peer.url, sms=SMS_SENDER)
        )
        environ = {
            "RBM_CLIENT_TOKEN": peer.client_token,
            "OPENCOMMS_DATABASE_URL": url,
            "OPENCOMMS_ACCOUNT_SID": account[0],
            "OPENCOMMS_AUTH_TOKEN": account[1],
        }
        settings = load_settings(str(path), environ=environ, connector_types=CONNECTOR_TYPES)
        settings.server.secret_key_file = str(tmp_path / "opencomms.key")
        settings.simulator.receipt_latency_ms = [0, 5]
        server = ThreadServer(settings).start()
        try:
            assert peer.register_webhook(f"{server.url}/webhooks/rcs").ok
            with httpx.Client(base_url=server.url + "/v1", auth=account, timeout=30) as api:
                yield Setup(peer, api)
        finally:
            server.stop()


def test_rcs_is_delivered_and_a_number_without_rcs_falls_back_to_sms(setup: Setup) -> None:
    capable, without_rcs = "+14155550161", "+14155550162"
    setup.peer.unreachable(without_rcs)

    messages = setup.messages(setup.send(capable, without_rcs))

    rcs = messages[capable]
    assert rcs["status"] == "DELIVERED"
    [attempt] = rcs["attempts"]
    assert (attempt["from"]["address"], attempt["status"]) == (AGENT, "DELIVERED")
    assert setup.peer.delivered_to(capable) == [setup.peer.messages()[0].message_id]
    assert setup.peer.messages()[0].body["contentMessage"] == {"text": "Hello"}

    fallen = messages[without_rcs]
    first, second = fallen["attempts"]
    assert (first["status"], first["error"]["code"]) == ("FAILED", 61337)
    assert "NOT_FOUND" in first["error"]["message"]
    assert (second["from"]["address"], second["status"]) == (SMS_SENDER, "DELIVERED")
    assert fallen["status"] == "DELIVERED"
    assert setup.peer.delivered_twice() == []


def test_read_events_and_their_order(setup: Setup) -> None:
    setup.peer.options.read = True
    setup.peer.options.read_first = True
    setup.peer.duplicate_events(copies=2)
    number = "+14155550163"

    operation_id = setup.send(number)
    setup.peer.wait(lambda: setup.peer.pending_events() == 0 and setup.peer.pushes("READ"))
    setup.messages(operation_id)  # COMPLETED once DELIVERED (or READ): READ may follow

    def read() -> dict[str, Any] | None:
        message = setup.messages(operation_id)[number]
        return message if message["status"] == "READ" else None

    message = wait_until(read, 10)
    assert [a["status"] for a in message["attempts"]] == ["READ"]


def test_a_stop_reply_over_rcs_is_an_opt_out(setup: Setup) -> None:
    """The agent is the operator's: a reply goes to the account that sent last to it."""
    number = "+14155550164"
    setup.messages(setup.send(number))
    setup.peer.push_user_message(number, text="STOP")
    setup.peer.wait(lambda: setup.peer.pending_events() == 0)
    opt_outs = setup.api.get("/OptOuts").json()
    assert number in str(opt_outs)


@pytest.mark.parametrize("expiry_event", [True, False], ids=["expiry event", "revoked"])
def test_an_offline_phone_gets_sms_and_never_the_rcs_after_it(
    setup: Setup, expiry_event: bool
) -> None:
    """The message goes with the fallback timeout as its ttl. RBM's expiry event fails the
    attempt (UNDELIVERED); without it, the fallback timer moves on and the RCS message is
    revoked. Either way the phone coming online later does not get it after the SMS."""
    setup.peer.options.expiry_events = expiry_event
    number = "+14155550165"
    setup.peer.offline(number)

    message = setup.messages(setup.send(number))[number]

    rcs, sms = message["attempts"]
    assert rcs["from"]["address"] == AGENT
    if expiry_event:
        assert (rcs["status"], rcs["error"]["code"]) == ("UNDELIVERED", 30003)
    else:
        assert rcs["status"] == "SENT"
        setup.peer.wait(setup.peer.revocations)
        [revoked] = setup.peer.revocations()
        assert (revoked.phone, revoked.status) == (number, 200)
    assert (sms["from"]["address"], sms["status"]) == (SMS_SENDER, "DELIVERED")
    [held] = setup.peer.messages()
    assert held.body["ttl"] == "2s"
    setup.peer.come_online(number)
    setup.peer.wait(lambda: setup.peer.pending_events() == 0)
    assert setup.peer.delivered_to(number) == []
