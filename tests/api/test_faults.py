"""Faults answer honestly: while the database is lost (PostgreSQL behind a proxy that is
cut) or its disk is full (SQLite under a file-size limit of 0: every write fails as on a
full disk), every request that needs it answers 503 with `Retry-After` and the contract's
body, never a 500; once the fault clears, everything works again and nothing accepted
before or during the fault is lost: operations complete, events reach their sink."""

from __future__ import annotations

import contextlib
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer

from opencomms.domain.ids import new_account_sid, new_auth_token
from tests.api.test_errors import assert_error
from tests.events.helpers import delivered_events, make_sink
from tests.support.databases import fresh_postgres
from tests.support.polling import send, wait_completed, wait_until
from tests.support.process import ServeProcess
from tests.support.proxy import proxied

CONFIG = """\
[faults]
retry_after = "2s"
connect_timeout = "1s"
query_timeout = "2s"
max_backoff = "500ms"

[simulator]
receipt_latency_ms = [200, 400]
"""
RECIPIENTS = 60
PREFIX = "com.twilio.comms-api."


@dataclass
class Faulty:
    """A real `opencomms serve` whose database can be made to fail, and clear again."""

    server: ServeProcess
    auth: tuple[str, str]
    fail: Callable[[], None]
    clear: Callable[[], None]
    lost: bool  # the whole database is gone (reads fail too), not only its writes
    ids: dict[str, str] = field(default_factory=dict)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.url + "/v1", auth=self.auth, timeout=30)


def _serve(url: str, workdir: Path, config: str = CONFIG) -> tuple[ServeProcess, tuple[str, str]]:
    (workdir / "opencomms.toml").write_text(config)
    auth = (new_account_sid(), new_auth_token())
    env = {
        "OPENCOMMS_CONFIG": str(workdir / "opencomms.toml"),
        "OPENCOMMS_ACCOUNT_SID": auth[0],
        "OPENCOMMS_AUTH_TOKEN": auth[1],
        "OPENCOMMS_ALLOWED_CALLBACK_NETWORKS": "127.0.0.0/8,::1/128",
    }
    return ServeProcess(url, workdir, env, piped=True).start(), auth


@pytest.fixture
def config() -> str:
    return CONFIG


@pytest.fixture(params=["sqlite", "postgresql"])
def faulty(request: pytest.FixtureRequest, tmp_path: Path, config: str) -> Iterator[Faulty]:
    if request.param == "sqlite":
        server, auth = _serve(f"sqlite:///{tmp_path / 'oc.db'}", tmp_path, config)
        unlimited = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)

        def full() -> None:
            resource.prlimit(server.pid, resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))

        def free() -> None:
            with contextlib.suppress(ProcessLookupError):  # it was stopped meanwhile
                resource.prlimit(server.pid, resource.RLIMIT_FSIZE, unlimited)

        try:
            yield Faulty(server, auth, full, free, lost=False)
        finally:
            server.stop()
        return
    with fresh_postgres() as url, proxied("127.0.0.1", 5432) as proxy:
        through = url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        server, auth = _serve(through, tmp_path, config)
        try:
            yield Faulty(server, auth, proxy.cut, proxy.restore, lost=True)
        finally:
            proxy.restore()
            server.stop()


@pytest.fixture
def receiver(httpserver: HTTPServer) -> HTTPServer:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    return httpserver


def _recipients(count: int, first: int = 100) -> list[dict[str, str]]:
    return [{"address": f"+1206555{first + n:04d}", "channel": "PHONE"} for n in range(count)]


def _prepare(faulty: Faulty, api: httpx.Client, receiver: HTTPServer) -> None:
    """Things for every endpoint to address during the fault, and work in progress."""
    ids = faulty.ids

    def created(response: httpx.Response) -> dict[str, Any]:
        assert response.status_code in (200, 201, 202), response.text
        body: dict[str, Any] = response.json()
        return body

    sink = make_sink(api, receiver.url_for("/hook"))
    ids["sink"] = sink["id"]
    ids["subscription"] = api.get("/Subscriptions").json()["subscriptions"][0]["id"]
    sender = {"address": "+12065550042", "channel": "SMS"}
    ids["sender"] = created(api.post("/Senders", json=sender))["id"]
    pool = {"name": "spare", "senders": [ids["sender"]]}
    ids["pool"] = created(api.post("/SenderPools", json=pool))["id"]
    ids["key"] = created(api.post("/ApiKeys", json={"friendlyName": "spare"}))["sid"]
    created(api.post("/OptOuts", json={"address": "+12065550043"}))
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ids["scheduled"] = send(
        api,
        {"to": _recipients(1), "content": {"text": "later"}, "schedule": {"sendAt": [tomorrow]}},
    )
    ids["scheduled_message"] = wait_until(
        lambda: api.get("/Messages", params={"operationId": ids["scheduled"]}).json()["messages"]
    )[0]["id"]
    # accepted just before the fault: its fan-out, submits and receipts cross it
    ids["before"] = send(api, {"to": _recipients(RECIPIENTS), "content": {"text": "before"}})


def _reads(ids: dict[str, str]) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", path, None)
        for path in (
            "/Messages",
            f"/Messages?operationId={ids['before']}",
            f"/Messages/{ids['scheduled_message']}",
            "/Messages/Operations",
            f"/Messages/Operations/{ids['before']}",
            "/Senders",
            f"/Senders/{ids['sender']}",
            "/SenderPools",
            f"/SenderPools/{ids['pool']}",
            f"/SenderPools/{ids['pool']}/Senders",
            "/OptOuts",
            "/OptOuts/+12065550043",
            "/ApiKeys",
            "/Account",
            "/Sinks",
            f"/Sinks/{ids['sink']}",
            f"/Sinks/{ids['sink']}/Deliveries",
            "/Subscriptions",
            f"/Subscriptions/{ids['subscription']}",
        )
    ]


def _writes(ids: dict[str, str], hook: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        ("POST", "/Messages", {"to": _recipients(3, 500), "content": {"text": "during"}}),
        ("POST", f"/Messages/Operations/{ids['scheduled']}/Cancel", None),
        ("POST", f"/Messages/{ids['scheduled_message']}/Cancel", None),
        ("POST", "/Senders", {"address": "+12065550044", "channel": "SMS"}),
        ("POST", f"/Senders/{ids['sender']}", {"status": "DEACTIVATED"}),
        ("DELETE", f"/Senders/{ids['sender']}", None),
        ("POST", "/SenderPools", {"name": "during", "senders": [ids["sender"]]}),
        ("POST", f"/SenderPools/{ids['pool']}", {"name": "renamed"}),
        ("DELETE", f"/SenderPools/{ids['pool']}/Senders/{ids['sender']}", None),
        ("DELETE", f"/SenderPools/{ids['pool']}", None),
        ("POST", "/OptOuts", {"address": "+12065550045"}),
        ("DELETE", "/OptOuts/+12065550043", None),
        ("POST", "/ApiKeys", {"friendlyName": "during"}),
        ("DELETE", f"/ApiKeys/{ids['key']}", None),
        ("POST", "/Sinks", {"url": hook}),
        ("POST", f"/Sinks/{ids['sink']}/Replay", {"startDate": an_hour_ago}),
        ("POST", "/Subscriptions", {"sinkId": ids["sink"], "types": [PREFIX + "message.*"]}),
        ("DELETE", f"/Subscriptions/{ids['subscription']}", None),
        ("DELETE", f"/Sinks/{ids['sink']}", None),
    ]


def _assert_unavailable(response: httpx.Response) -> None:
    assert_error(response, 503)
    assert response.headers["Retry-After"] == "2", response.headers
    assert response.json()["code"] == 20503


def test_faults_answer_503_and_nothing_accepted_is_lost(
    faulty: Faulty, receiver: HTTPServer
) -> None:
    with faulty.client() as api:
        _prepare(faulty, api, receiver)
        ids = faulty.ids

        faulty.fail()
        try:
            for method, path, body in _writes(ids, receiver.url_for("/hook")):
                response = api.request(method, path, json=body)
                assert response.status_code == 503, f"{method} {path}: {response.text}"
                _assert_unavailable(response)
            for method, path, body in _reads(ids):
                response = api.request(method, path, json=body)
                if faulty.lost:
                    _assert_unavailable(response)
                else:  # a full disk still serves what is stored
                    assert response.status_code == 200, f"{method} {path}: {response.text}"
            stranger = httpx.get(
                faulty.server.url + "/v1/Senders", auth=(new_account_sid(), new_auth_token())
            )
            health = httpx.get(faulty.server.url + "/healthz")
            if faulty.lost:
                _assert_unavailable(stranger)  # credentials cannot be checked
                assert health.status_code == 503
                assert health.headers["Retry-After"] == "2"
            else:
                assert_error(stranger, 401)
                assert health.status_code == 200
            time.sleep(3)  # the workers meet the fault and back off
        finally:
            faulty.clear()

        wait_until(lambda: httpx.get(faulty.server.url + "/healthz").status_code == 200)
        _assert_nothing_lost(api, ids, receiver)
        _assert_everything_works(api, ids)
    assert "Traceback" not in faulty.server.log_text(), faulty.server.log_text()[-5000:]


def _assert_nothing_lost(api: httpx.Client, ids: dict[str, str], receiver: HTTPServer) -> None:
    """What was accepted before the fault completes; what was refused left no trace."""
    stats = wait_completed(api, ids["before"])["stats"]
    assert (stats["total"], stats["delivered"] + stats["read"]) == (RECIPIENTS, RECIPIENTS)

    def completed_event() -> bool:
        return any(
            e["type"] == PREFIX + "operation.completed"
            and e["data"]["operation_id"] == ids["before"]
            for e in delivered_events(receiver)
        )

    wait_until(completed_event, timeout=60)
    operations = api.get("/Messages/Operations").json()["operations"]
    assert {o["id"] for o in operations} == {ids["before"], ids["scheduled"]}
    scheduled = api.get(f"/Messages/Operations/{ids['scheduled']}").json()
    assert scheduled["status"] == "SCHEDULED"
    senders = api.get("/Senders", params={"pageSize": 100}).json()["senders"]
    addresses = {s["address"] for s in senders}
    assert "+12065550042" in addresses
    assert "+12065550044" not in addresses
    opt_outs = {o["address"] for o in api.get("/OptOuts").json()["optOuts"]}
    assert opt_outs == {"+12065550043"}
    assert [k["sid"] for k in api.get("/ApiKeys").json()["keys"]] == [ids["key"]]
    assert [s["id"] for s in api.get("/Sinks").json()["sinks"]] == [ids["sink"]]


def _assert_everything_works(api: httpx.Client, ids: dict[str, str]) -> None:
    after = send(api, {"to": _recipients(5, 700), "content": {"text": "after"}})
    assert wait_completed(api, after)["stats"]["total"] == 5
    created = api.post("/Senders", json={"address": "+12065550046", "channel": "SMS"})
    assert created.status_code == 201, created.text
    assert api.delete(f"/ApiKeys/{ids['key']}").status_code == 204


def test_a_postgresql_that_stops_answering_is_a_503_not_a_hang(
    tmp_path: Path, receiver: HTTPServer
) -> None:
    """A partition: the link drops every packet, nothing is refused. Connections in the
    pool and new ones alike give up within the timeouts, as a 503."""
    with fresh_postgres() as url, proxied("127.0.0.1", 5432) as proxy:
        through = url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        server, auth = _serve(through, tmp_path)
        faulty = Faulty(server, auth, proxy.stall, proxy.restore, lost=True)
        try:
            with faulty.client() as api:
                _prepare(faulty, api, receiver)
                proxy.stall()
                try:
                    for method, path, body in (
                        *_reads(faulty.ids)[:4],
                        *_writes(faulty.ids, receiver.url_for("/hook"))[:4],
                    ):
                        _assert_unavailable(api.request(method, path, json=body))
                finally:
                    proxy.restore()
                wait_until(lambda: httpx.get(server.url + "/healthz").status_code == 200)
                _assert_nothing_lost(api, faulty.ids, receiver)
                _assert_everything_works(api, faulty.ids)
        finally:
            proxy.restore()
            server.stop()


@pytest.mark.parametrize("config", [CONFIG + 'receipt_wait = "2s"\n'])
def test_a_server_stopped_during_the_fault_stops_and_its_work_goes_on_at_the_next_start(
    faulty: Faulty,
) -> None:
    with faulty.client() as api:
        operation = send(api, {"to": _recipients(RECIPIENTS), "content": {"text": "hi"}})
    faulty.fail()
    time.sleep(1)  # the workers meet the fault, holding answers and receipts

    stopped = faulty.server.stop(timeout=60)
    faulty.clear()

    assert stopped, "the server did not stop by itself: " + faulty.server.log_text()[-3000:]
    server = faulty.server
    again = ServeProcess(server.database_url, server.workdir, server.env, piped=True).start()
    try:
        with httpx.Client(base_url=again.url + "/v1", auth=faulty.auth, timeout=30) as api:
            completed = wait_completed(api, operation, timeout=120)
    finally:
        again.stop()
    assert completed["stats"]["total"] == RECIPIENTS
