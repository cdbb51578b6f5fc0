"""Status callbacks of a 10,000-recipient operation, and across a SIGKILL of the server."""

from __future__ import annotations

import collections
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from opencomms.domain.ids import new_account_sid, new_auth_token
from tests.events.helpers import (
    assert_signed,
    delivered_events,
    make_sink,
    posted_batches,
    wait_for_events,
)
from tests.support.databases import database_url
from tests.support.polling import send, wait_completed, wait_until
from tests.support.process import ServeProcess
from tests.test_crash_safety import ordinary_number

pytestmark = pytest.mark.slow

PREFIX = "com.twilio.comms-api."
PER_MESSAGE = ["queued", "sent", "delivered", "read"]


def test_ten_thousand_recipients_give_exactly_the_expected_events(
    api: httpx.Client, account: tuple[str, str], httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    sink = make_sink(api, httpserver.url_for("/hook"))
    to = [{"address": ordinary_number(i), "channel": "PHONE"} for i in range(10_000)]
    operation_id = send(api, {"to": to, "content": {"text": "Hello"}})
    wait_completed(api, operation_id, timeout=300)

    events = wait_for_events(httpserver, 10_000 * 4 + 2, timeout=300)

    assert {e["data"]["operation_id"] for e in events} == {operation_id}
    per_message = collections.defaultdict(list)
    for event in events:
        if "message_id" in event["data"]:
            per_message[event["data"]["message_id"]].append(
                event["type"].removeprefix(PREFIX + "message.")
            )
    assert len(per_message) == 10_000
    assert all(sorted(types) == sorted(PER_MESSAGE) for types in per_message.values())
    batches = posted_batches(httpserver)
    assert max(len(json.loads(request.get_data())) for request, _ in batches) == 100
    for request, _ in batches:
        assert_signed(request, account[1], sink["secret"])


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, str(tmp_path)) as url:
        yield url


def test_a_server_killed_mid_delivery_delivers_the_rest_after_restart(
    backend_url: str, tmp_path: Path, httpserver: HTTPServer
) -> None:
    def slow_ok(request: Request) -> Response:
        time.sleep(0.05)
        return Response("ok", status=200)

    httpserver.expect_request("/hook", method="POST").respond_with_handler(slow_ok)
    sid, token = new_account_sid(), new_auth_token()
    env = {
        "OPENCOMMS_ACCOUNT_SID": sid,
        "OPENCOMMS_AUTH_TOKEN": token,
        "OPENCOMMS_ALLOWED_CALLBACK_NETWORKS": "127.0.0.0/8,::1/128",
        # the simulator re-delivers its receipts after the restart, as a carrier does, so
        # every message still goes queued, sent, delivered, read: 4 events each
        "OPENCOMMS_SIMULATOR_SUBMIT_LOG": str(tmp_path / "submits.jsonl"),
    }
    server = ServeProcess(backend_url, tmp_path, env).start()
    try:
        api = httpx.Client(base_url=server.url + "/v1", auth=(sid, token), timeout=60)
        make_sink(api, httpserver.url_for("/hook"))
        to = [{"address": ordinary_number(i), "channel": "PHONE"} for i in range(1_000)]
        operation_id = send(api, {"to": to, "content": {"text": "Hello"}})
        wait_until(lambda: len(posted_batches(httpserver)) >= 5)
        server.kill()
        server.start()
        wait_completed(api, operation_id, timeout=120)

        expected = 1_000 * 4 + 2
        wait_until(lambda: len({e["id"] for e in delivered_events(httpserver)}) >= expected, 300)
    finally:
        server.stop()

    events = delivered_events(httpserver)
    assert len({e["id"] for e in events}) == expected
