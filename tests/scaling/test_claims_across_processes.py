"""Several `opencomms serve` processes on one PostgreSQL database share the work, and one
killed with SIGKILL loses nothing and sends nothing twice: its claims are taken over
once their leases run out, its attempts in flight recovered by asking the carrier, and
every event reaches the sink (at least once: a batch again only across a takeover)."""

from __future__ import annotations

import base64
import collections
import json
import random
import secrets
import time
from pathlib import Path

import httpx
import pytest

from opencomms.domain.ids import new_account_sid, new_auth_token
from tests.events.helpers import make_sink
from tests.scaling.outcomes import (
    assert_every_event_arrived,
    kill_and_restart,
    outbox_ids,
    stuck_work,
)
from tests.support.databases import database_url
from tests.support.event_sink import EventSink
from tests.support.polling import all_messages, operation, send, wait_completed, wait_until
from tests.support.process import ServeProcess
from tests.test_crash_safety import ordinary_number

pytestmark = pytest.mark.slow

PROCESSES = 3
SENDS = 3  # a send takes 10,000 recipients at most (the contract's limit)
PER_SEND = 10_000


def _environment(tmp_path: Path) -> dict[str, str]:
    # one carrier behind every process: their simulators share its submit log, so that a
    # process taking over another's attempt knows whether the carrier got it
    config = tmp_path / "opencomms.toml"
    config.write_text(
        "[simulator]\nsubmit_latency_ms = [0, 30]\nreceipt_latency_ms = [0, 0]\nthroughput = 300\n"
    )
    return {
        "OPENCOMMS_CONFIG": str(config),
        "OPENCOMMS_ACCOUNT_SID": new_account_sid(),
        "OPENCOMMS_AUTH_TOKEN": new_auth_token(),
        # one key for all, as docs/scaling.md asks: each opens the secrets another sealed
        "OPENCOMMS_SECRET_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "OPENCOMMS_SIMULATOR_SUBMIT_LOG": str(tmp_path / "submits.jsonl"),
        "OPENCOMMS_ALLOWED_CALLBACK_NETWORKS": "127.0.0.0/8,::1/128",
    }


def test_three_processes_share_an_operation_and_survive_two_kills(tmp_path: Path) -> None:
    rng = random.Random()
    env = _environment(tmp_path)
    account = (env["OPENCOMMS_ACCOUNT_SID"], env["OPENCOMMS_AUTH_TOKEN"])
    with database_url("postgresql", str(tmp_path)) as url, EventSink() as sink:
        servers = []
        for index in range(PROCESSES):
            (workdir := tmp_path / f"process{index}").mkdir()
            servers.append(ServeProcess(url, workdir, env))
        try:
            for server in servers:  # one after the other: the first one migrates
                server.start()
            apis = [httpx.Client(base_url=s.url + "/v1", auth=account, timeout=60) for s in servers]
            sink_id = make_sink(apis[0], sink.url)["id"]
            to = [{"address": ordinary_number(i), "channel": "PHONE"} for i in range(30_000)]
            operation_ids = [
                send(
                    apis[n],
                    {"to": to[n * PER_SEND : (n + 1) * PER_SEND], "content": {"text": "Hi"}},
                )
                for n in range(SENDS)
            ]
            victim, api = servers[rng.randrange(PROCESSES)], apis[0]

            def attempts() -> int:
                return sum(operation(api, o)["stats"]["attempts"] for o in operation_ids)

            # first kill: at a random moment of the fan-out; the second: of the dispatch
            wait_until(lambda: attempts() >= rng.uniform(0, 0.2) * 30_000, timeout=60)
            takeovers = int(kill_and_restart(url, victim, sink_id))
            wait_until(lambda: attempts() >= rng.uniform(0.3, 0.8) * 30_000, timeout=120)
            takeovers += kill_and_restart(url, victim, sink_id)

            finals = [wait_completed(api, o, timeout=150) for o in operation_ids]
            messages = [
                m for o in operation_ids for m in all_messages(api, operationId=o, pageSize=1000)
            ]
            stuck = stuck_work(url)
            expected = outbox_ids(url)
            wait_until(lambda: expected <= sink.ids(), timeout=180, interval=0.5)
            time.sleep(1)  # a batch sent again would have come by now
        finally:
            for server in servers:
                server.stop()

    for final in finals:
        assert (final["stats"]["recipients"], final["stats"]["total"]) == (PER_SEND, PER_SEND)
    per_recipient = collections.Counter(m["to"][0]["address"] for m in messages)
    assert set(per_recipient) == {r["address"] for r in to}
    assert max(per_recipient.values()) == 1
    submit_log = Path(env["OPENCOMMS_SIMULATOR_SUBMIT_LOG"])
    submits = [json.loads(line) for line in submit_log.read_text().splitlines() if line]
    per_attempt = collections.Counter(line["attemptId"] for line in submits)
    assert len(per_attempt) >= 30_000
    assert {a: n for a, n in per_attempt.items() if n > 1} == {}
    assert {line["operationId"] for line in submits} == set(operation_ids)
    assert stuck == dict.fromkeys(stuck, 0)
    assert_every_event_arrived(sink, expected, messages, operation_ids, takeovers)
