"""What the smtp tests share: a real server with an `smtp` connector, the SMTP test peer
as its relay (on a thread of its own) and its DSNs to the bounce listener, on both
databases; and the peer's clock, moved by the tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from opencomms.connectors.registry import CONNECTOR_TYPES
from opencomms.domain.ids import new_account_sid, new_auth_token
from opencomms.settings import load_settings
from tests.support import server as server_module
from tests.support.databases import database_url
from tests.support.polling import all_messages, send
from tests.support.server import ThreadServer, free_port
from tests.support.smtp_peer.threaded import PeerThread

SMS_SENDER = "+15005550006"
EMAIL_SENDER = "news@acme.test"
CONFIG = """\
[server]
public_url = "{public_url}"

[connectors.mail]
type = "smtp"
host = "127.0.0.1"
port = {port}
security = "none"
connections = {connections}
bounce_address = "bounces@acme.test"
bounce_listen = "127.0.0.1:{bounce_port}"
kept_mail_dir = "{kept}"
webhook_secret_env = "SMTP_WEBHOOK_SECRET"
fallback_timeout = "30s"
receipt_wait = "3h"

[[senders]]
address = "{sms}"
channel = "SMS"
connector = "simulator"

[[senders]]
address = "{email}"
channel = "EMAIL"
connector = "mail"

[[sender_pools]]
name = "sms then email"
senders = ["SMS:{sms}", "EMAIL:{email}"]
"""


class Clock:
    """The peer's clock: the test moves it; nothing sleeps for an hour."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class Setup:
    relay: PeerThread
    clock: Clock
    api: httpx.Client
    server: ThreadServer

    def send(self, recipients: list[list[tuple[str, str]]], text: str = "Hello") -> str:
        pools = self.api.get("/SenderPools").json()["senderPools"]
        pool = next(pool for pool in pools if pool["name"] == "sms then email")
        to = [
            {"addresses": [{"address": a, "channel": c} for a, c in addresses]}
            for addresses in recipients
        ]
        body = {"to": to, "content": {"text": text}, "from": {"senderPoolId": pool["id"]}}
        return send(self.api, body)

    def messages(self, operation_id: str) -> list[dict[str, Any]]:
        return [
            self.api.get(f"/Messages/{m['id']}").json()
            for m in all_messages(self.api, operationId=operation_id)
        ]


@pytest.fixture(params=["sqlite", "postgresql"])
def setup(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Setup]:
    connections = 4
    account = (new_account_sid(), new_auth_token())
    clock = Clock()
    port = free_port()
    monkeypatch.setattr(server_module, "free_port", lambda: port)
    with PeerThread(clock=clock) as relay, database_url(request.param, str(tmp_path)) as url:
        bounce_port = free_port()
        relay.peer.report_to = ("127.0.0.1", bounce_port)
        path = tmp_path / "opencomms.toml"
        path.write_text(CONFIG.format(
            public_url=f"http://127.0.0.1:{port}", port=relay.peer.port, bounce_port=bounce_port,
            kept=tmp_path / "kept", sms=SMS_SENDER, email=EMAIL_SENDER, connections=connections,
        ))  # fmt: skip
        environ = {
            "SMTP_WEBHOOK_SECRET": "e2e-webhook-secret-41",
            "OPENCOMMS_DATABASE_URL": url,
            "OPENCOMMS_ACCOUNT_SID": account[0],
            "OPENCOMMS_AUTH_TOKEN": account[1],
        }
        settings = load_settings(str(path), environ=environ, connector_types=CONNECTOR_TYPES)
        settings.server.secret_key_file = str(tmp_path / "opencomms.key")
        settings.simulator.receipt_latency_ms = [0, 5]
        server = ThreadServer(settings).start()
        try:
            with httpx.Client(base_url=server.url + "/v1", auth=account, timeout=30) as api:
                yield Setup(relay, clock, api, server)
        finally:
            server.stop()
