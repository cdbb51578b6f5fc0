"""An API-only process takes the providers' webhooks: a worker-only process sends to the
WhatsApp test peer, the peer posts its statuses to the API process, and the Message
reaches DELIVERED. Real processes on one PostgreSQL database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from opencomms.domain.ids import new_account_sid, new_auth_token
from tests.connectors.whatsapp.test_delivery import CONFIG, NUMBER_ID, SECRET, SENDER, TOKEN, VERIFY
from tests.support.databases import fresh_postgres
from tests.support.polling import all_messages, send, wait_completed
from tests.support.process import ServeProcess
from tests.support.whatsapp_peer import WhatsAppPeer

pytestmark = pytest.mark.slow


def test_an_api_process_stores_the_statuses_a_provider_posts_to_it(tmp_path: Path) -> None:
    peer = WhatsAppPeer(
        access_token=TOKEN, app_secret=SECRET, verify_token=VERIFY, phone_number_id=NUMBER_ID,
        display_phone_number=SENDER.removeprefix("+"),
    )  # fmt: skip
    sid, token = new_account_sid(), new_auth_token()
    with peer, fresh_postgres() as url:
        config = tmp_path / "opencomms.toml"
        base_url = f"http://127.0.0.1:{peer.port}/v21.0"
        config.write_text(
            CONFIG.format(
                number_id=NUMBER_ID, base_url=base_url, sender=SENDER, fallback_timeout="30s"
            )
        )
        env = {
            "WA_ACCESS_TOKEN": TOKEN,
            "WA_APP_SECRET": SECRET,
            "WA_VERIFY_TOKEN": VERIFY,
            "OPENCOMMS_CONFIG": str(config),
            "OPENCOMMS_ACCOUNT_SID": sid,
            "OPENCOMMS_AUTH_TOKEN": token,
        }
        api_process = ServeProcess(url, tmp_path, env, options=["--role", "api"]).start()
        peer.webhook_url = f"{api_process.url}/webhooks/wa"
        worker = subprocess.Popen(
            [sys.executable, "-m", "opencomms", "serve", "--role", "worker"],
            cwd=tmp_path,
            env={**api_process.env, "OPENCOMMS_DATABASE_URL": url},
        )
        try:
            api = httpx.Client(base_url=api_process.url + "/v1", auth=(sid, token), timeout=30)
            body = {
                "to": [{"address": "+14155550101", "channel": "PHONE"}],
                "content": {"text": "Hi"},
            }
            operation_id = send(api, body)
            wait_completed(api, operation_id)
            (listed,) = all_messages(api, operationId=operation_id)
            message = api.get(f"/Messages/{listed['id']}").json()
        finally:
            worker.terminate()
            worker.wait(timeout=60)
            api_process.stop()

    assert message["status"] == "DELIVERED"
    assert [(a["from"]["channel"], a["status"]) for a in message["attempts"]] == [
        ("WHATSAPP", "DELIVERED")
    ]
    (accepted,) = peer.accepted
    assert accepted.to == "14155550101"
