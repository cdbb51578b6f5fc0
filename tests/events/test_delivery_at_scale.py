"""Status callbacks of a 10,000-recipient operation, and across a SIGKILL of the server."""

from __future__ import annotations

import collections
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    submit_log = tmp_path / "submits.jsonl"
    env = {
        "OPENCOMMS_ACCOUNT_SID": sid,
        "OPENCOMMS_AUTH_TOKEN": token,
        "OPENCOMMS_ALLOWED_CALLBACK_NETWORKS": "127.0.0.0/8,::1/128",
        # the simulator re-delivers its receipts after the restart, as a carrier does
        "OPENCOMMS_SIMULATOR_SUBMIT_LOG": str(submit_log),
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

        def arrived() -> bool:
            expected = len(expected_events(submitted(submit_log))) + 2
            return len({e["id"] for e in delivered_events(httpserver)}) >= expected

        wait_until(arrived, 300)
    finally:
        server.stop()

    attempts = submitted(submit_log)
    assert len({a["messageId"] for a in attempts.values()}) == 1_000
    events = list({e["id"]: e for e in delivered_events(httpserver)}.values())
    operation_events = [e["type"] for e in events if "message_id" not in e["data"]]
    assert sorted(operation_events) == [
        PREFIX + "operation.completed",
        PREFIX + "operation.processing",
    ]
    assert_each_status_once(events, attempts)


def submitted(submit_log: Path) -> dict[str, dict[str, Any]]:
    """The attempts the simulator (the carrier) accepted, by id: none was submitted twice
    (the crash rule: an attempt that may have reached its connector is never resent).
    As the simulator does, a line torn by the SIGKILL is skipped (it was never
    acknowledged), and so is a line still being written."""
    lines = []
    for raw in submit_log.read_text().split("\n")[:-1]:
        try:
            lines.append(json.loads(raw))
        except json.JSONDecodeError:
            continue
    per_attempt = collections.Counter(line["attemptId"] for line in lines)
    assert {a: n for a, n in per_attempt.items() if n > 1} == {}
    return {line["attemptId"]: line for line in lines if line["result"] == "ACCEPTED"}


def expected_events(attempts: dict[str, dict[str, Any]]) -> set[tuple[str, str]]:
    """(attempt id, event type) of every status an accepted attempt goes through: RCS and
    WhatsApp ones are read, the others only delivered."""
    return {
        (attempt_id, PREFIX + "message." + status)
        for attempt_id, line in attempts.items()
        for status in (PER_MESSAGE if line["channel"] in ("RCS", "WHATSAPP") else PER_MESSAGE[:3])
    }


def assert_each_status_once(events: list[dict[str, Any]], attempts: dict[str, Any]) -> None:
    """Every status change of every attempt is one event, none is recorded twice.

    A Message may have had a second attempt: a RCS attempt whose receipt had not come when
    the server was killed waits out its fallback timeout (10 s) while the server is down
    or slow to start, and the Message falls back to WhatsApp before the re-delivered
    receipt is applied; the late receipt is still recorded (docs/decisions.md, "A
    provider's delivery window, and taking back what the fallback left")."""
    got = collections.Counter(
        (e["data"]["downstream_id"], e["type"]) for e in events if "message_id" in e["data"]
    )
    assert {key: n for key, n in got.items() if n > 1} == {}
    assert set(got) == expected_events(attempts)
    first = {
        (e["data"]["message_id"], e["type"]) for e in events if e["data"].get("attempt") == "1"
    }
    assert len(first) == 1_000 * len(PER_MESSAGE)
