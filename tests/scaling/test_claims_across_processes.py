"""Several `opencomms serve` processes on one PostgreSQL database share the work, and one
killed with SIGKILL loses nothing and sends nothing twice: its claims are taken over
once their leases run out, its attempts in flight recovered by asking the carrier, and
every event reaches the sink (at least once: a batch again only across a takeover)."""

from __future__ import annotations

import asyncio
import collections
import json
import random
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from opencomms.domain.ids import new_account_sid, new_auth_token
from opencomms.events.payloads import event_id
from opencomms.events.sink_delivery import DeliveryPolicy
from tests.events.helpers import make_sink
from tests.scaling.processes import lease_holder
from tests.support.databases import database_url
from tests.support.event_sink import EventSink
from tests.support.polling import all_messages, operation, send, wait_completed, wait_until
from tests.support.process import ServeProcess
from tests.test_crash_safety import ordinary_number

pytestmark = pytest.mark.slow

PROCESSES = 3
SENDS = 3  # a send takes 10,000 recipients at most (the contract's limit)
PER_SEND = 10_000
# what a sink may get again: the one batch out when its owner was killed (docs/scaling.md)
BATCH = DeliveryPolicy().batch_size


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


def outbox_ids(url: str) -> set[str]:
    """The id of every event written (the outbox): what the sink must get."""

    async def read() -> set[str]:
        conn = await asyncpg.connect(url)
        try:
            return {event_id(row["seq"]) for row in await conn.fetch("SELECT seq FROM events")}
        finally:
            await conn.close()

    return asyncio.run(read())


def kill_and_restart(url: str, victim: ServeProcess, sink_id: str) -> bool:
    """SIGKILL `victim` and start it again; whether it was delivering the sink (then
    its last batch may come again)."""
    delivering = lease_holder(url, "sink:" + sink_id) == victim.pid
    victim.kill()
    victim.start()
    return delivering


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
            takeovers = kill_and_restart(url, victim, sink_id)
            wait_until(lambda: attempts() >= rng.uniform(0.3, 0.8) * 30_000, timeout=120)
            takeovers += kill_and_restart(url, victim, sink_id)

            finals = [wait_completed(api, o, timeout=150) for o in operation_ids]
            messages = [
                m for o in operation_ids for m in all_messages(api, operationId=o, pageSize=1000)
            ]
            stuck = asyncio.run(_stuck(url))
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


def assert_every_event_arrived(
    sink: EventSink,
    expected: set[str],
    messages: list[dict[str, Any]],
    operation_ids: list[str],
    takeovers: int,
) -> None:
    """Every event written reached the sink, and nothing else did; each Message's events
    tell its story up to its final status, each operation's its processing and
    completion; an event came twice only across a takeover of the sink, at most the
    batch out at that moment."""
    assert sink.ids() == expected
    kinds = sink.kinds()
    assert len(kinds) == len(messages) + len(operation_ids)
    for message in messages:
        final = message["status"].lower()
        story = {"queued", final} | ({"sent"} if final in ("delivered", "undelivered") else set())
        assert story <= kinds[message["id"]], (message, kinds[message["id"]])
    assert all(kinds[o] == {"processing", "completed"} for o in operation_ids)
    assert sink.repeated() <= BATCH * takeovers, (sink.repeated(), takeovers)
