"""Senders and pools from the operator's file: provisioned into every account, kept as
configured across restarts; a configured pool named `default` is used when a send names no
`from`; the API refuses connectors that are not configured or cannot carry the channel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from opencomms.connectors.registry import CONNECTOR_TYPES
from opencomms.domain.ids import new_account_sid, new_auth_token
from opencomms.settings import Settings, load_settings
from tests.api.test_senders import create_sender, error_fields, ok
from tests.support.databases import database_url
from tests.support.polling import all_messages, send, wait_completed
from tests.support.server import ThreadServer, free_port

CONFIG = """\
[simulator]
receipt_latency_ms = [0, 5]

[connectors.operator_a]                 # an SMSC that is not there: the server still starts
type = "smpp"
host = "127.0.0.1"
port = {closed_port}
system_id = "acme"
password_env = "OPERATOR_A_PASSWORD"
reconnect_max = "1s"

[connectors.lab]
type = "simulator"

[[senders]]
address = "+12065558844"
channel = "WHATSAPP"
connector = "lab"
fallback_timeout = "{fallback}"

[[senders]]
address = "+12065558844"
channel = "SMS"
connector = "operator_a"

[[sender_pools]]
name = "default"
senders = ["WHATSAPP:+12065558844", "SMS:+12065558844"]

[[sender_pools]]
name = "sms only"
senders = ["SMS:+12065558844"]
"""


class Configured:
    def __init__(self, url: str, directory: Path) -> None:
        self.url = url
        self.directory = directory
        self.closed_port = free_port()
        self.account = (new_account_sid(), new_auth_token())

    def settings(self, fallback: str = "3s") -> Settings:
        path = self.directory / "opencomms.toml"
        path.write_text(CONFIG.format(closed_port=self.closed_port, fallback=fallback))
        environ = {"OPERATOR_A_PASSWORD": "secret", "OPENCOMMS_DATABASE_URL": self.url}
        environ |= {"OPENCOMMS_ACCOUNT_SID": self.account[0]}
        environ |= {"OPENCOMMS_AUTH_TOKEN": self.account[1]}
        settings = load_settings(str(path), environ=environ, connector_types=CONNECTOR_TYPES)
        server = settings.server
        server.secret_key_file = str(self.directory / "opencomms.key")
        return settings

    def start(self, fallback: str = "3s") -> ThreadServer:
        return ThreadServer(self.settings(fallback)).start()


@pytest.fixture(params=["sqlite", "postgresql"])
def configured(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Configured]:
    with database_url(request.param, str(tmp_path)) as url:
        yield Configured(url, tmp_path)


def client(server: ThreadServer, account: tuple[str, str]) -> httpx.Client:
    return httpx.Client(base_url=server.url + "/v1", auth=account, timeout=30)


def senders_by_channel(api: httpx.Client) -> dict[str, dict[str, Any]]:
    return {
        s["channel"]: s
        for s in ok(api.get("/Senders", params={"pageSize": 100}))["senders"]
        if s["address"] == "+12065558844"
    }


def pools_by_name(api: httpx.Client) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in ok(api.get("/SenderPools"))["senderPools"]}


def test_configured_senders_and_pools_are_in_every_account(configured: Configured) -> None:
    server = configured.start()
    try:
        with client(server, configured.account) as api, client(server, server.new_account()) as new:
            for account_api in (api, new):
                mine = senders_by_channel(account_api)
                assert {c: (s["connector"], s["status"]) for c, s in mine.items()} == {
                    "WHATSAPP": ("lab", "ACTIVATED"),
                    "SMS": ("operator_a", "ACTIVATED"),
                }
                # its own duration; else its connector's (smpp: 60s, 72h)
                assert (mine["WHATSAPP"]["fallbackTimeout"], mine["SMS"]["fallbackTimeout"]) == (
                    "3s",
                    "1m",
                )
                assert mine["SMS"]["receiptWait"] == "3d"
                pools = pools_by_name(account_api)
                assert set(pools) == {"default", "sms only"}
                assert pools["default"]["default"] is True
                assert pools["default"]["senders"] == [mine["WHATSAPP"]["id"], mine["SMS"]["id"]]
                assert pools["sms only"]["senders"] == [mine["SMS"]["id"]]
                assert pools["sms only"]["default"] is False
    finally:
        server.stop()


def test_a_send_without_from_uses_the_configured_default_pool(configured: Configured) -> None:
    server = configured.start()
    try:
        with client(server, configured.account) as api:
            operation_id = send(
                api,
                {
                    "to": [{"address": "+14155550100", "channel": "PHONE"}],
                    "content": {"text": "hi"},
                },
            )
            wait_completed(api, operation_id)
            (message,) = all_messages(api, operationId=operation_id)
    finally:
        server.stop()
    assert message["status"] in {"DELIVERED", "READ"}
    assert (message["from"]["address"], message["from"]["channel"]) == ("+12065558844", "WHATSAPP")


def test_the_api_refuses_a_connector_that_cannot_carry_the_sender(configured: Configured) -> None:
    server = configured.start()
    try:
        with client(server, configured.account) as api:
            body = {"address": "+12065550199", "channel": "WHATSAPP"}
            assert error_fields(api.post("/Senders", json={**body, "connector": "operator_a"})) == {
                "connector"
            }
            refused = api.post("/Senders", json={**body, "connector": "operator_b"})
            assert error_fields(refused) == {"connector"}
            assert (
                refused.json()["errors"][0]["message"]
                == "no connector with this name is configured"
            )
            whatsapp = senders_by_channel(api)["WHATSAPP"]
            update = api.post(f"/Senders/{whatsapp['id']}", json={"connector": "operator_a"})
            assert error_fields(update) == {"connector"}

            made = create_sender(api, "+12065550199", "SMS", connector="operator_a")
            assert (made["connector"], made["fallbackTimeout"], made["receiptWait"]) == (
                "operator_a",
                "1m",
                "3d",
            )
            assert ok(api.get(f"/Senders/{made['id']}"))["connector"] == "operator_a"
            moved = ok(api.post(f"/Senders/{made['id']}", json={"connector": "lab"}))
            assert moved["connector"] == "lab"
    finally:
        server.stop()


def test_a_restart_applies_a_changed_config_and_keeps_what_the_api_changed(
    configured: Configured,
) -> None:
    server = configured.start()
    try:
        with client(server, configured.account) as api:
            before = senders_by_channel(api)
            pools = pools_by_name(api)
            ok(api.post(f"/Senders/{before['SMS']['id']}", json={"status": "DEACTIVATED"}))
            ok(api.post(f"/Senders/{before['WHATSAPP']['id']}", json={"connector": "simulator"}))
            ok(api.post(f"/SenderPools/{pools['sms only']['id']}", json={"senders": []}))
    finally:
        server.stop()

    server = configured.start(fallback="5s")
    try:
        with client(server, configured.account) as api:
            after = senders_by_channel(api)
            again = pools_by_name(api)
    finally:
        server.stop()
    assert {c: s["id"] for c, s in after.items()} == {c: s["id"] for c, s in before.items()}
    assert after["WHATSAPP"]["fallbackTimeout"] == "5s"  # the file changed
    assert after["WHATSAPP"]["connector"] == "lab"  # the file is the truth for its connector
    assert after["SMS"]["status"] == "DEACTIVATED"  # the status is the API's
    assert {n: p["id"] for n, p in again.items()} == {n: p["id"] for n, p in pools.items()}
    assert again["sms only"]["senders"] == [before["SMS"]["id"]]  # members as configured
