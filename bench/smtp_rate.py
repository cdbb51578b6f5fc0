"""The smtp connector's rate, measured once (docs/smtp.md), outside the bench scenarios:
`opencomms serve` in its own process with an `smtp` connector, the SMTP test peer
(tests/support/smtp_peer) on a thread of this process as its relay, sending a
`delivered` DSN back to the bounce listener for each mail. One POST of `--count` email
recipients; timed until the relay had every mail, and until the operation COMPLETED
(every DSN stored). Checks every recipient reached the relay exactly once.

    python -m bench.smtp_rate [--engine sqlite|postgresql] [--count 10000] [--connections 8]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from tests.support.server import free_port
from tests.support.smtp_peer.threaded import PeerThread

from bench.server import ServerProcess, fresh_database

SENDER = "news@acme.test"
CONFIG = """\
[connectors.mail]
type = "smtp"
host = "127.0.0.1"
port = {port}
security = "none"
connections = {connections}
bounce_address = "bounces@acme.test"
bounce_listen = "127.0.0.1:{bounce_port}"
kept_mail_dir = "{kept}"

[[senders]]
address = "{sender}"
channel = "EMAIL"
connector = "mail"

[[sender_pools]]
name = "email"
senders = ["{sender}"]
"""


def _send(api: httpx.Client, count: int) -> str:
    pools = api.get("/SenderPools").json()["senderPools"]
    pool = next(pool for pool in pools if pool["name"] == "email")
    to = [{"address": f"user{n}@example.test", "channel": "EMAIL"} for n in range(count)]
    body = {"to": to, "content": {"text": "Hi"}, "from": {"senderPoolId": pool["id"]}}
    answer = api.post("/Messages", json=body, timeout=120)
    assert answer.status_code == 202, answer.text
    operation_id: str = answer.json()["operationId"]
    return operation_id


def _wait(check: Any, timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the run did not finish")
        time.sleep(0.1)


def run(engine: str, count: int, connections: int, directory: Path) -> dict[str, Any]:
    with PeerThread() as relay, fresh_database(engine, directory) as url:
        relay.peer.report_to = ("127.0.0.1", bounce_port := free_port())
        config = CONFIG.format(port=relay.peer.port, connections=connections, sender=SENDER,
                               bounce_port=bounce_port, kept=directory / "kept")  # fmt: skip
        server = ServerProcess(url, directory, config=config, public_url=True).start()
        try:
            with httpx.Client(base_url=server.url + "/v1", auth=server.credentials.auth) as api:
                started = time.monotonic()
                operation_id = _send(api, count)
                _wait(lambda: len(relay.peer.mails) >= count)
                at_relay = time.monotonic() - started
                operation = f"/Messages/Operations/{operation_id}"
                _wait(lambda: api.get(operation).json()["status"] == "COMPLETED")
                completed = time.monotonic() - started
                stats = api.get(operation).json()["stats"]
        finally:
            server.stop()
        reached = Counter(mail.rcpt_to for mail in relay.peer.mails)
    assert set(reached.values()) == {1} and len(reached) == count, "not exactly once"
    assert stats["delivered"] == count, stats
    return {"engine": engine, "emails": count, "connections": connections,
            "at_relay_s": round(at_relay, 1), "per_s": round(count / at_relay),
            "completed_s": round(completed, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smtp-rate-") as directory:
        print(run(args.engine, args.count, args.connections, Path(directory)))


if __name__ == "__main__":
    main()
