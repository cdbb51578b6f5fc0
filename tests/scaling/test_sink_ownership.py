"""A sink's events are delivered by one process at a time, in order: two processes on
one PostgreSQL database deliver each event once; when the owner is killed (SIGKILL), the
other takes the sink over within TAKEOVER_S and delivers the rest (docs/scaling.md)."""

from __future__ import annotations

import collections
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from opencomms.background.ownership import TAKEOVER_S
from opencomms.events.sink_delivery import DeliveryPolicy
from tests.events.helpers import delivered_events, make_sink
from tests.scaling.processes import count_rows, lease_holder, serve_processes
from tests.support.databases import fresh_postgres
from tests.support.polling import send, wait_completed, wait_until
from tests.test_crash_safety import ordinary_number

pytestmark = pytest.mark.slow

PREFIX = "com.twilio.comms-api.message."
ORDER = ["queued", "sent", "delivered", "read"]
SLACK_S = 4.0  # the survivor's poll, a loaded machine
IN_FLIGHT = DeliveryPolicy().lanes * DeliveryPolicy().batch_size  # events out at once


class Receiver:
    """Answers 200 after `delay_s`; remembers when each batch came."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.times: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        time.sleep(self.delay_s)
        with self._lock:
            self.times.append(time.monotonic())
        return Response("ok", status=200)


def _per_message(events: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each Message's event types, in the order first delivered."""
    seen: set[str] = set()
    found: dict[str, list[str]] = collections.defaultdict(list)
    for event in events:
        if event["id"] in seen or "message_id" not in event["data"]:
            continue
        seen.add(event["id"])
        found[event["data"]["message_id"]].append(event["type"].removeprefix(PREFIX))
    return found


def test_two_processes_deliver_each_event_once_in_order(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_handler(Receiver(0.0))
    with fresh_postgres() as url, serve_processes(url, tmp_path, 2) as (processes, account):
        api = httpx.Client(base_url=processes[0].url + "/v1", auth=account, timeout=60)
        make_sink(api, httpserver.url_for("/hook"))
        to = [{"address": ordinary_number(i), "channel": "PHONE"} for i in range(500)]
        operation_id = send(api, {"to": to, "content": {"text": "Hello"}})
        wait_completed(api, operation_id, timeout=120)
        expected = 500 * len(ORDER) + 2
        wait_until(lambda: len(delivered_events(httpserver)) >= expected, 120)
        time.sleep(2)  # a second process delivering too would have sent them again by now

    events = delivered_events(httpserver)
    assert len(events) == expected  # each event once: no other process sent them again
    assert len({e["id"] for e in events}) == expected
    per_message = _per_message(events)
    assert len(per_message) == 500
    assert all(types == ORDER for types in per_message.values())


def test_the_sink_is_taken_over_within_the_documented_time(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    receiver = Receiver(1.0)  # slow: the owner dies with most of the events still to send
    httpserver.expect_request("/hook", method="POST").respond_with_handler(receiver)
    with fresh_postgres() as url, serve_processes(url, tmp_path, 2) as (processes, account):
        api = httpx.Client(base_url=processes[0].url + "/v1", auth=account, timeout=60)
        sink = make_sink(api, httpserver.url_for("/hook"))
        to = [{"address": ordinary_number(i), "channel": "PHONE"} for i in range(400)]
        operation_id = send(api, {"to": to, "content": {"text": "Hello"}})
        wait_completed(api, operation_id, timeout=120)
        expected = 400 * len(ORDER) + 2
        # every event is in the outbox before the owner dies: only its delivery is left
        wait_until(lambda: count_rows(url, "SELECT count(*) FROM events") >= expected, 60)
        owner_pid = wait_until(lambda: lease_holder(url, "sink:" + sink["id"]))
        owner = next(p for p in processes if p.pid == owner_pid)
        survivor = next(p for p in processes if p is not owner)
        assert len(delivered_events(httpserver)) < expected - 500
        owner.kill()
        killed = time.monotonic()

        wait_until(lambda: any(t > killed + 0.5 for t in receiver.times), TAKEOVER_S + SLACK_S)
        taken_over = min(t for t in receiver.times if t > killed + 0.5) - receiver.delay_s
        wait_until(lambda: len({e["id"] for e in delivered_events(httpserver)}) >= expected, 120)
        assert lease_holder(url, "sink:" + sink["id"]) == survivor.pid

    assert taken_over - killed <= TAKEOVER_S + SLACK_S
    events = delivered_events(httpserver)
    assert len({e["id"] for e in events}) == expected  # nothing lost
    # at least once: at most the batches out at the kill, one per lane
    assert len(events) <= expected + IN_FLIGHT
    assert all(types == ORDER for types in _per_message(events).values())
