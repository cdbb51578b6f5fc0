"""Connectors one process at a time runs (engine/singletons.py), with two processes on
one PostgreSQL database: an SMPP account with `binds = 1` is bound by one process only,
and its bind fails over when that process is killed (SIGKILL); a simulator capped at
100 msg/s per sender sends at most that in total, not 100 per process."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from opencomms.background.ownership import TAKEOVER_S
from tests.scaling.processes import lease_holder, serve_processes
from tests.support.databases import fresh_postgres
from tests.support.polling import send, wait_completed
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
    log = [tmp_path / f"submits{i}.jsonl" for i in range(2)]
    with fresh_postgres() as url, serve_processes(
        url, tmp_path, 2, {"OPENCOMMS_SIMULATOR_THROUGHPUT": "100"}
    ) as (processes, account):
        ...
