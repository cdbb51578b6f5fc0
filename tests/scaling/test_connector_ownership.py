"""Connectors one process at a time runs (engine/singletons.py), with two processes on
one PostgreSQL database: an SMPP account with `binds = 1` is bound by one process only,
and its bind fails over when that process is killed (SIGKILL); a simulator capped at
100 msg/s per sender sends at most that in total, not 100 per process."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from opencomms.background.ownership import TAKEOVER_S
from tests.scaling.processes import lease_holder, serve_processes
from tests.support.databases import fresh_postgres
from tests.support.polling import operation, send, wait_completed, wait_until
from tests.support.smsc import Smsc
from tests.test_crash_safety import ordinary_number

pytestmark = pytest.mark.slow

SENDER = "+12065550100"
CONFIG = """\
[connectors.smsc]
type = "smpp"
host = "127.0.0.1"
port = {port}
system_id = "opencomms"
password_env = "SMSC_PASSWORD"
binds = 1
reconnect_min = "100ms"
reconnect_max = "500ms"

[[senders]]
address = "{sender}"
channel = "SMS"
connector = "smsc"

[[sender_pools]]
name = "default"
senders = ["SMS:{sender}"]
"""


async def _count_binds(smsc: Smsc, most: list[int]) -> None:
    """The most connections the SMSC had open at once, looked at every 10 ms."""
    while True:
        most[0] = max(most[0], sum(not c.client.is_closing() for c in smsc.connections))
        await asyncio.sleep(0.01)


def _send_and_complete(api: httpx.Client, first: int, count: int, timeout: float) -> dict:
    to = [{"address": ordinary_number(i), "channel": "PHONE"} for i in range(first, first + count)]
    return wait_completed(api, send(api, {"to": to, "content": {"text": "Hi"}}), timeout)


async def test_an_smpp_account_is_bound_by_one_process_and_fails_over(tmp_path: Path) -> None:
    smsc = await Smsc().start()
    smsc.auto_receipt = "DELIVRD"
    most = [0]
    watcher = asyncio.create_task(_count_binds(smsc, most))
    config = tmp_path / "opencomms.toml"
    config.write_text(CONFIG.format(port=smsc.port, sender=SENDER))
    env = {"OPENCOMMS_CONFIG": str(config), "SMSC_PASSWORD": "secret"}
    postgres = fresh_postgres()
    url = await asyncio.to_thread(postgres.__enter__)
    running = serve_processes(url, tmp_path, 2, env)
    try:
        processes, account = await asyncio.to_thread(running.__enter__)
        api = httpx.Client(base_url=processes[1].url + "/v1", auth=account, timeout=60)
        done = await asyncio.to_thread(_send_and_complete, api, 0, 50, 60)
        assert done["stats"]["delivered"] == 50, done["stats"]
        owner_pid = await asyncio.to_thread(lease_holder, url, "connector:smsc")
        owner = next(p for p in processes if p.pid == owner_pid)
        survivor = next(p for p in processes if p is not owner)
        binds_before = len(smsc.binds)

        await asyncio.to_thread(owner.kill)
        killed = time.monotonic()
        api = httpx.Client(base_url=survivor.url + "/v1", auth=account, timeout=60)
        done = await asyncio.to_thread(_send_and_complete, api, 50, 50, TAKEOVER_S + 20)
        failed_over = time.monotonic() - killed
        assert done["stats"]["delivered"] == 50, done["stats"]
        assert await asyncio.to_thread(lease_holder, url, "connector:smsc") == survivor.pid
    finally:
        await asyncio.to_thread(running.__exit__, None, None, None)
        await asyncio.to_thread(postgres.__exit__, None, None, None)
        watcher.cancel()
        await smsc.stop()

    assert binds_before == 1  # the other process never bound
    assert len(smsc.binds) == 2  # the survivor bound once the owner was gone
    assert most[0] == 1  # never more binds than the account's one
    assert failed_over <= TAKEOVER_S + 20
    destinations = Counter(s.destination_addr for s in smsc.submits)
    assert len(destinations) == 100 and set(destinations.values()) == {1}


def test_a_throughput_cap_holds_across_processes(tmp_path: Path) -> None:
    config = tmp_path / "opencomms.toml"
    config.write_text('[simulator]\nthroughput = 100\nsubmit_log = "submits.jsonl"\n')
    env = {"OPENCOMMS_CONFIG": str(config)}
    with fresh_postgres() as url, serve_processes(url, tmp_path, 2, env) as (processes, account):
        apis = [httpx.Client(base_url=p.url + "/v1", auth=account, timeout=60) for p in processes]
        to = [{"address": ordinary_number(i), "channel": "PHONE"} for i in range(RECIPIENTS)]
        # a send to each process: both would send at 100/s if each applied the cap alone
        sent_at = time.time()
        operations = [send(api, {"to": to, "content": {"text": "Hi"}}) for api in apis]
        for api, operation_id in zip(apis, operations, strict=True):
            wait_completed(api, operation_id, timeout=120)

    times = sorted(
        _seconds(json.loads(line)["at"])
        for path in tmp_path.glob("process*/submits.jsonl")
        for line in path.read_text().splitlines()
    )
    assert len(times) == 2 * RECIPIENTS
    # one sender capped at 100/s in total: by any moment, no more than 100 a second since
    # the sends (5 % and a few for the clocks), where two processes capping alone would
    # have sent twice that. (The simulator logs a claim's submits once the last of them
    # had its turn: a submit is logged at its turn or later, never before.)
    for count, at in enumerate(times, start=1):
        assert count <= 100 * (at - sent_at) * 1.05 + 5, (count, at - sent_at)
    assert times[-1] - sent_at >= 2 * RECIPIENTS / 100 * 0.95


def test_a_one_recipient_send_overtakes_a_campaign_on_another_process(tmp_path: Path) -> None:
    config = tmp_path / "opencomms.toml"
    config.write_text("[simulator]\nthroughput = 100\n")
    env = {"OPENCOMMS_CONFIG": str(config)}
    with fresh_postgres() as url, serve_processes(url, tmp_path, 2, env) as (processes, account):
        apis = [httpx.Client(base_url=p.url + "/v1", auth=account, timeout=60) for p in processes]
        to = [{"address": ordinary_number(i), "channel": "PHONE"} for i in range(2_000)]
        campaign = send(apis[0], {"to": to, "content": {"text": "Sale"}})
        wait_until(lambda: _sent(apis[0], campaign) > 100, 60)
        started = time.monotonic()
        one = send(apis[1], {"to": [{"address": ordinary_number(5_000), "channel": "PHONE"}],
                             "content": {"text": "Your code is 1234"}})  # fmt: skip
        wait_completed(apis[1], one, timeout=30)
        overtook_in = time.monotonic() - started
        still_running = operation(apis[0], campaign)["status"]

    assert still_running == "PROCESSING"  # the campaign needs 20 s at 100/s
    assert overtook_in < 5, overtook_in


def _sent(api: httpx.Client, operation_id: str) -> int:
    stats = operation(api, operation_id)["stats"]
    return int(stats["total"] - stats["queued"] - stats["scheduled"])  # sent, or further


RECIPIENTS = 300


def _seconds(at: str) -> float:
    return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
