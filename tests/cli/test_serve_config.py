"""`opencomms serve` with an operator file: configured senders and pools are served, an
unreachable SMSC does not stop the start, and a bad file stops it naming the key."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx

from opencomms.domain.ids import new_account_sid, new_auth_token
from tests.support.process import ServeProcess
from tests.support.server import free_port

CONFIG = """\
[connectors.operator_a]
type = "smpp"
host = "127.0.0.1"
port = {closed_port}                    # nothing listens: the connector retries in the background
system_id = "acme"
password_env = "OPERATOR_A_PASSWORD"

[[senders]]
address = "+12065558844"
channel = "SMS"
connector = "operator_a"

[[senders]]
address = "noreply@example.com"
channel = "EMAIL"

[[sender_pools]]
name = "default"
senders = ["+12065558844", "noreply@example.com"]
"""


# distinctive, so that the log's own words ("webhook secrets are sealed") cannot match it
PASSWORD = "operator-a-password-7f3c"


def test_serve_with_a_config_shows_its_senders_and_pools(tmp_path: Path) -> None:
    config = tmp_path / "opencomms.toml"
    config.write_text(CONFIG.format(closed_port=free_port()))
    sid, token = new_account_sid(), new_auth_token()
    env = {
        "OPENCOMMS_CONFIG": str(config),
        "OPENCOMMS_ACCOUNT_SID": sid,
        "OPENCOMMS_AUTH_TOKEN": token,
        "OPERATOR_A_PASSWORD": PASSWORD,
    }
    server = ServeProcess(f"sqlite:///{tmp_path / 'oc.db'}", tmp_path, env).start()
    try:
        with httpx.Client(base_url=server.url + "/v1", auth=(sid, token), timeout=30) as api:
            senders = api.get("/Senders", params={"pageSize": 100}).json()["senders"]
            pools = api.get("/SenderPools").json()["senderPools"]
    finally:
        server.stop()
    by_address = {(s["address"], s["channel"]): s for s in senders}
    sms = by_address[("+12065558844", "SMS")]
    email = by_address[("noreply@example.com", "EMAIL")]
    assert (sms["connector"], email["connector"]) == ("operator_a", "simulator")
    (default,) = [p for p in pools if p["default"]]
    assert (default["name"], default["senders"]) == ("default", [sms["id"], email["id"]])
    assert PASSWORD not in (tmp_path / "serve.log").read_text()


def test_serve_with_a_bad_config_exits_naming_the_key_and_line(tmp_path: Path) -> None:
    config = tmp_path / "opencomms.toml"
    config.write_text(
        CONFIG.format(closed_port=2775).replace(
            'connector = "operator_a"', 'connector = "operator_b"'
        )
    )

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "opencomms",
            "serve",
            "--config",
            str(config),
            "--port",
            str(free_port()),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "OPERATOR_A_PASSWORD": "x"},
    )

    assert done.returncode == 2
    assert f"{config}: senders[0].connector (line 11): no connector 'operator_b'" in done.stderr


def test_serve_without_the_password_variable_exits_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "opencomms.toml"
    config.write_text(CONFIG.format(closed_port=2775))

    done = subprocess.run(
        [sys.executable, "-m", "opencomms", "serve", "--config", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )

    assert done.returncode == 2
    assert "connectors.operator_a.password_env (line 6)" in done.stderr
    assert "OPERATOR_A_PASSWORD is not set" in done.stderr


HTTP_LIMITS = """\
[http]
max_header_bytes = 4096
max_body_bytes = 2048
max_connections_per_client = 2
"""


def test_serve_applies_the_http_limits_of_its_file(tmp_path: Path) -> None:
    config = tmp_path / "opencomms.toml"
    config.write_text(HTTP_LIMITS)
    sid, token = new_account_sid(), new_auth_token()
    env = {
        "OPENCOMMS_CONFIG": str(config),
        "OPENCOMMS_ACCOUNT_SID": sid,
        "OPENCOMMS_AUTH_TOKEN": token,
    }
    server = ServeProcess(f"sqlite:///{tmp_path / 'oc.db'}", tmp_path, env).start()
    try:
        with httpx.Client(base_url=server.url + "/v1", auth=(sid, token), timeout=30) as api:
            large_head = api.get("/Senders", headers={"X-Padding": "x" * 5000})
            large_body = api.post("/OptOuts", json={"address": "+14155550100", "x": "y" * 3000})
            with socket.create_connection(("127.0.0.1", server.port)):
                # a third connection: beside the raw one and api's kept-alive one
                over_cap = httpx.get(server.url + "/healthz", timeout=30)
    finally:
        server.stop()

    assert (large_head.status_code, large_head.json()["code"]) == (431, 20431)
    assert (large_body.status_code, large_body.json()["code"]) == (413, 20413)
    assert (over_cap.status_code, over_cap.headers["retry-after"]) == (429, "1")
