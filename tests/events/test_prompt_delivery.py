"""Events are delivered when they are committed, not at the delivery worker's next poll:
with the poll an hour long, every status callback of a send still arrives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer

from opencomms.events import sink_delivery
from opencomms.settings import SimulatorSettings
from tests.conftest import BACKENDS
from tests.events.helpers import make_sink, wait_for_events
from tests.support.polling import send, wait_completed
from tests.support.server import account_client, running_server

AN_HOUR_S = 3600.0
EVENTS_OF_ONE_DELIVERED_MESSAGE = 2 + 4  # processing, completed; queued, sent, delivered, read


@pytest.fixture(params=BACKENDS)
def slow_polling_api(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[httpx.Client]:
    """A server of its own whose delivery worker polls the outbox once an hour."""
    monkeypatch.setattr(sink_delivery, "IDLE_POLL_S", AN_HOUR_S)
    simulator = SimulatorSettings(receipt_latency_ms=[0, 5])
    with (
        running_server(request.param, tmp_path, simulator=simulator) as server,
        account_client(server) as client,
    ):
        yield client


def test_callbacks_arrive_without_waiting_for_the_poll(
    slow_polling_api: httpx.Client, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    make_sink(slow_polling_api, httpserver.url_for("/hook"))
    to = {"address": "+14155550100", "channel": "PHONE"}  # delivered and read

    first = send(slow_polling_api, {"to": [to], "content": {"text": "Hi"}})
    wait_completed(slow_polling_api, first)
    wait_for_events(httpserver, EVENTS_OF_ONE_DELIVERED_MESSAGE)
    # the worker is idle now, until the next event is committed (or an hour passes)
    second = send(slow_polling_api, {"to": [to], "content": {"text": "Hi again"}})
    wait_completed(slow_polling_api, second)
    events = wait_for_events(httpserver, 2 * EVENTS_OF_ONE_DELIVERED_MESSAGE)

    assert {e["data"]["operation_id"] for e in events} == {first, second}
