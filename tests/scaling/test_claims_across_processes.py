"""Several `opencomms serve` processes on one PostgreSQL database share the work, and one
killed with SIGKILL loses nothing and sends nothing twice: its claims are taken over
once their leases run out, its attempts in flight recovered by asking the carrier.

Still to add with the sink singleton of issue 13: every event reaches a sink."""

from __future__ import annotations

import asyncio
import collections
import json
import random
from pathlib import Path

import asyncpg
import httpx
import pytest

from opencomms.domain.ids import new_account_sid, new_auth_token
from tests.support.databases import database_url
from tests.support.polling import all_messages, operation, send, wait_completed, wait_until
from tests.support.process import ServeProcess
from tests.test_crash_safety import ordinary_number

pytestmark = pytest.mark.slow

PROCESSES = 3
SENDS = 3  # a send takes 10,000 recipients at most (the contract's limit)
PER_SEND = 10_000


async def _stuck(url: str) -> dict[str, int]:
    """What would be left undone: Messages not settled, attempts in flight, fan-out jobs,
    receipts waiting for their answer."""
    conn = await asyncpg.connect(url)
    try:
        return {
            name: await conn.fetchval(query)
            for name, query in (
                ("unsettled", "SELECT count(*) FROM messages WHERE settled = 0"),
                ("due", "SELECT count(*) FROM messages WHERE due_at IS NOT NULL"),
                ("in flight", "SELECT count(*) FROM attempts WHERE in_flight = 1"),
                ("jobs", "SELECT count(*) FROM jobs"),
                ("early receipts", "SELECT count(*) FROM early_receipts"),
            )
        }
    finally:
        await conn.close()


def test_three_processes_share_an_operation_and_survive_two_kills(tmp_path: Path) -> None:
    rng = random.Random()
    sid, token = new_account_sid(), new_auth_token()
    # one carrier behind every process: their simulators share its submit log, so that a
    # process taking over another's attempt knows whether the carrier got it
    submit_log = tmp_path / "submits.jsonl"
    config = tmp_path / "opencomms.toml"
    config.write_text(
        "[simulator]\nsubmit_latency_ms = [0, 30]\nreceipt_latency_ms = [0, 0]\nthroughput = 300\n"
    )
    env = {
        "OPENCOMMS_CONFIG": str(config),
        "OPENCOMMS_ACCOUNT_SID": sid,
        "OPENCOMMS_AUTH_TOKEN": token,
        "OPENCOMMS_SIMULATOR_SUBMIT_LOG": str(submit_log),
    }
    with database_url("postgresql", str(tmp_path)) as url:
        servers = []
        for index in range(PROCESSES):
            (workdir := tmp_path / f"process{index}").mkdir()
            servers.append(ServeProcess(url, workdir, env))
        try:
            for server in servers:  # one after the other: the first one migrates
                server.start()
            apis = [
                httpx.Client(base_url=s.url + "/v1", auth=(sid, token), timeout=60) for s in servers
            ]
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
            victim.kill()
            victim.start()
            wait_until(lambda: attempts() >= rng.uniform(0.3, 0.8) * 30_000, timeout=120)
            victim.kill()
            victim.start()

            finals = [wait_completed(api, o, timeout=150) for o in operation_ids]
            messages = [
                m for o in operation_ids for m in all_messages(api, operationId=o, pageSize=1000)
            ]
            stuck = asyncio.run(_stuck(url))
        finally:
            for server in servers:
                server.stop()

    for final in finals:
        assert (final["stats"]["recipients"], final["stats"]["total"]) == (PER_SEND, PER_SEND)
    per_recipient = collections.Counter(m["to"][0]["address"] for m in messages)
    assert set(per_recipient) == {r["address"] for r in to}
    assert max(per_recipient.values()) == 1
    submits = [json.loads(line) for line in submit_log.read_text().splitlines() if line]
    per_attempt = collections.Counter(line["attemptId"] for line in submits)
    assert len(per_attempt) >= 30_000
    assert {a: n for a, n in per_attempt.items() if n > 1} == {}
    assert {line["operationId"] for line in submits} == set(operation_ids)
    assert stuck == dict.fromkeys(stuck, 0)
