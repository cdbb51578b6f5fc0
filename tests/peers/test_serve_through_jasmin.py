"""`opencomms serve --config` with an `smpp` connector bound to Jasmin: a POST
/v1/Messages is sent over SMPP, every recipient reaches the SMSC once, and the receipts
Jasmin relays settle each Message DELIVERED on an attempt carrying Jasmin's id."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from opencomms.domain.ids import new_account_sid, new_auth_token
from tests.support.jasmin import JasminPeer
from tests.support.polling import wait_completed
from tests.support.process import ServeProcess

SENDER = "+14155550100"


def operator_config(peer: JasminPeer, directory: Path) -> str:
    return f"""\
[server]
secret_key_file = "{directory / "opencomms.key"}"

[connectors.jasmin]
type = "smpp"
host = "{peer.smpp_host}"
port = {peer.smpp_port}
system_id = "{peer.system_id}"
password_env = "JASMIN_PASSWORD"
binds = 2

[[senders]]
address = "{SENDER}"
channel = "SMS"
connector = "jasmin"

[[sender_pools]]
name = "default"
senders = ["{SENDER}"]
"""


@pytest.fixture
def served(jasmin: JasminPeer, tmp_path: Path) -> Iterator[tuple[httpx.Client, Path]]:
    """An authenticated /v1 client of a server whose default pool sends through Jasmin,
    and its SQLite database."""
    config = tmp_path / "opencomms.toml"
    config.write_text(operator_config(jasmin, tmp_path))
    account, token = new_account_sid(), new_auth_token()
    env = {
        "OPENCOMMS_ACCOUNT_SID": account,
        "OPENCOMMS_AUTH_TOKEN": token,
        "OPENCOMMS_CONFIG": str(config),
        "JASMIN_PASSWORD": jasmin.password,
    }
    database = tmp_path / "opencomms.db"
    server = ServeProcess(f"sqlite:///{database}", tmp_path, env).start()
    try:
        with httpx.Client(base_url=server.url + "/v1", auth=(account, token), timeout=30) as api:
            yield api, database
    finally:
        server.stop()


def test_post_messages_is_delivered_through_jasmin(
    jasmin: JasminPeer, served: tuple[httpx.Client, Path]
) -> None:
    api, database = served
    recipients = [f"+1415702{n:04d}" for n in range(5)]
    long_text = "Ваш заказ готов к выдаче. Пункт выдачи работает с 9:00 до 21:00 ежедневно! 📦"
    body = {
        "to": [
            {"address": address, "channel": "PHONE", "variables": {"n": str(n)}}
            for n, address in enumerate(recipients)
        ],
        "content": {"text": "{% if n == '4' %}" + long_text + "{% else %}Code {{n}}{% endif %}"},
    }
    response = api.post("/Messages", json=body)
    assert response.status_code == 202, response.text
    operation = wait_completed(api, response.json()["operationId"], timeout=60)
    assert operation["stats"]["delivered"] == 5, operation["stats"]

    listing = api.get("/Messages", params={"operationId": operation["id"]}).json()
    for summary in listing["messages"]:
        message = api.get(f"/Messages/{summary['id']}").json()
        assert message["status"] == "DELIVERED", message
        (attempt,) = message["attempts"]
        assert attempt["status"] == "DELIVERED", attempt
        assert attempt["from"]["address"] == SENDER and attempt["from"]["channel"] == "SMS"

    # each attempt carries the id Jasmin answered with (its UUID, keyed by the connector's
    # name), every one its own
    with sqlite3.connect(database) as conn:
        ids = [row[0] for row in conn.execute("SELECT provider_message_id FROM attempts")]
    assert len(ids) == len(set(ids)) == 5
    assert all(re.fullmatch(r"jasmin:[0-9a-f-]{36}", i or "") for i in ids), ids

    # at the SMSC: one submit per recipient, two parts for the long UCS-2 text
    for n, address in enumerate(recipients):
        submits = [s for s in jasmin.smsc_submits() if s.destination == address[1:]]
        assert len(submits) == (2 if n == 4 else 1), (address, submits)
        assert all(s.source == SENDER[1:] for s in submits)
    (short,) = [s for s in jasmin.smsc_submits() if s.destination == recipients[0][1:]]
    assert short.short_message == b"Code 0"
