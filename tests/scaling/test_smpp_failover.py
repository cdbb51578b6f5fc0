"""An SMPP account's binds fail over between three `opencomms serve` processes on one
PostgreSQL database: the process that holds them is killed (SIGKILL) twice during a
large send, at a random moment each time; another process binds within the documented
time, and the send ends with every recipient one Message, no submit_sm sent twice
(the crash rule: an attempt that may have been written is never sent again, docs/smpp.md),
nothing left undone, every event at the sink."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import time
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from opencomms.background.ownership import TAKEOVER_S
from tests.events.helpers import make_sink
from tests.scaling.outcomes import assert_every_event_arrived, kill, outbox_ids, stuck_work
from tests.scaling.processes import lease_holder, serve_processes
from tests.support.databases import fresh_postgres
from tests.support.event_sink import EventSink
from tests.support.polling import all_messages, send, wait_completed, wait_until
from tests.support.process import ServeProcess
from tests.support.smsc import Smsc, Submitted, smsc_in_thread
from tests.test_crash_safety import ordinary_number

pytestmark = pytest.mark.slow

RECIPIENTS = 4_000
BINDS = 2
# a Message in doubt (its attempt was in the killed owner's hands) is SENT and waits this
# long for a receipt that may still come (72 h by default), then settles as SENT
RECEIPT_WAIT = "20s"
SLACK_S = 5.0  # connecting and binding, the survivors' poll, a loaded machine
SENDER = "+12065550100"
CONFIG = """\
[connectors.smsc]
type = "smpp"
host = "127.0.0.1"
port = {port}
system_id = "opencomms"
password_env = "SMSC_PASSWORD"
binds = {binds}
reconnect_min = "100ms"
reconnect_max = "500ms"
receipt_wait = "{receipt_wait}"

[[senders]]
address = "{sender}"
channel = "SMS"
connector = "smsc"

[[sender_pools]]
name = "default"
senders = ["SMS:{sender}"]
"""


def _answer(smsc: Smsc) -> Any:
    """Accept every submit_sm with a DELIVRD receipt, as `auto_receipt` does; the
    receipt is lost when no bind is left to take it, or its bind dies before answering
    it (its owner was just killed): this SMSC does not keep receipts for a later bind."""

    def answer(submitted: Submitted) -> None:
        try:
            smsc.answer(submitted)
        except AssertionError:  # "no bound session can receive"
            submitted.event = None
            return
        # a receipt pushed on a bind that dies before answering it is lost, as said
        smsc.pushed[-1].add_done_callback(lambda f: f.cancelled() or f.exception())

    return answer


async def _count_binds(smsc: Smsc, most: list[int]) -> None:
    """The most connections the SMSC had open at once, looked at every 10 ms."""
    while True:
        most[0] = max(most[0], sum(not c.client.is_closing() for c in smsc.connections))
        await asyncio.sleep(0.01)


def _reached(smsc: Smsc, submits: float) -> bool:
    return len(smsc.submits) >= submits


def _fail_over(url: str, smsc: Smsc, processes: list[ServeProcess], sink_id: str) -> dict[str, Any]:
    """Kill the process holding the binds; once another has bound, start it again.
    How long the binds took to come back, and whether the sink was the victim's."""
    owner_pid = wait_until(lambda: lease_holder(url, "connector:smsc"), 30)
    victim = next(p for p in processes if p.pid == owner_pid)
    binds_before = len(smsc.binds)
    delivering = kill(url, victim, sink_id)
    killed = time.monotonic()
    wait_until(lambda: len(smsc.binds) >= binds_before + BINDS, TAKEOVER_S + 30)
    back_in = time.monotonic() - killed
    new_owner = lease_holder(url, "connector:smsc")
    victim.start()
    return {"back_in": back_in, "moved": new_owner not in (None, owner_pid), "sink": delivering}


def test_smpp_binds_fail_over_twice_during_a_large_send(tmp_path: Path) -> None:
    rng = random.Random()
    smsc, most = Smsc(), [0]
    smsc.on_submit = _answer(smsc)
    smsc.auto_receipt = "DELIVRD"
    with contextlib.ExitStack() as stack:
        loop = stack.enter_context(smsc_in_thread(smsc))
        sink = stack.enter_context(EventSink())
        url = stack.enter_context(fresh_postgres())
        watcher = asyncio.run_coroutine_threadsafe(_count_binds(smsc, most), loop)
        stack.callback(watcher.cancel)
        config = tmp_path / "opencomms.toml"
        config.write_text(
            CONFIG.format(port=smsc.port, sender=SENDER, binds=BINDS, receipt_wait=RECEIPT_WAIT)
        )
        env = {"OPENCOMMS_CONFIG": str(config), "SMSC_PASSWORD": "secret"}
        with serve_processes(url, tmp_path, 3, env) as (processes, account):
            api = httpx.Client(base_url=processes[0].url + "/v1", auth=account, timeout=60)
            sink_id = make_sink(api, sink.url)["id"]
            to = [{"address": ordinary_number(i), "channel": "PHONE"} for i in range(RECIPIENTS)]
            operation_id = send(api, {"to": to, "content": {"text": "Hi"}})
            failovers = []
            for low, high in ((0.05, 0.35), (0.45, 0.8)):  # two random moments of the send
                submits = rng.uniform(low, high) * RECIPIENTS
                wait_until(partial(_reached, smsc, submits), 120, 0.01)
                failovers.append(_fail_over(url, smsc, processes, sink_id))
            final = wait_completed(api, operation_id, timeout=150)
            messages = all_messages(api, operationId=operation_id)
            stuck = stuck_work(url)
            expected = outbox_ids(url)
            wait_until(lambda: expected <= sink.ids(), timeout=120, interval=0.5)
            time.sleep(1)  # a batch sent again would have come by now

    assert all(f["moved"] for f in failovers), failovers  # bound by another process
    assert all(f["back_in"] <= TAKEOVER_S + SLACK_S for f in failovers), failovers
    assert most[0] <= BINDS  # never more binds than the account's, across processes
    assert (final["stats"]["recipients"], final["stats"]["total"]) == (RECIPIENTS, RECIPIENTS)
    in_doubt = assert_sent_once(messages, smsc.submits, to)
    assert in_doubt <= 2 * 500, in_doubt  # what the owner had claimed, twice (500 a claim)
    assert stuck.pop("early receipts") <= in_doubt  # a receipt whose answer died with it
    assert stuck == dict.fromkeys(stuck, 0)
    takeovers = sum(f["sink"] for f in failovers)
    assert_every_event_arrived(sink, expected, messages, [operation_id], takeovers)


def assert_sent_once(
    messages: list[dict[str, Any]], submits: list[Submitted], to: list[dict[str, str]]
) -> int:
    """Every recipient one Message, every destination at most one submit_sm; a Message is
    DELIVERED on its one accepted submit_sm, or SENT in doubt (its attempt was in the
    killed owner's hands: written or not, never sent again). How many are in doubt."""
    per_recipient = collections.Counter(m["to"][0]["address"] for m in messages)
    assert set(per_recipient) == {r["address"] for r in to}
    assert max(per_recipient.values()) == 1
    per_destination = collections.Counter(s.destination_addr for s in submits)
    assert max(per_destination.values()) == 1, per_destination.most_common(3)
    statuses = collections.Counter(m["status"] for m in messages)
    assert set(statuses) <= {"DELIVERED", "SENT"}, statuses
    for message in messages:
        if message["status"] == "DELIVERED":
            assert per_destination[message["to"][0]["address"].removeprefix("+")] == 1
    return statuses["SENT"]
