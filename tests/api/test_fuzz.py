"""The fuzz run of issue 10: 10,000 hostile requests per engine over every route, no 5xx.

Two accounts, each with objects of every kind, send the requests that
tests/support/fuzz_routes.py builds: bodies of the contract's shape damaged with the
values of tests/support/fuzz_values.py, ids of their own, of the other account, or
garbage. Each answer is checked as a client would check it: never a 5xx, every 4xx in the
contract's error body, no success on the other account's objects. The run is
derandomized (the same requests every time), goes to the end, and reports each distinct
problem once with a request that shows it. Afterwards the server still sends.
"""

from __future__ import annotations

import heapq
import queue
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from pytest_httpserver import HTTPServer

from tests.api.test_errors import assert_error
from tests.support.fuzz_routes import Account, FuzzRequest, fuzz_requests
from tests.support.polling import wait_completed
from tests.support.server import ThreadServer

REQUESTS = 10_000
WORKERS = 4
SEND = {"to": [{"address": "+14155550100", "channel": "PHONE"}], "content": {"text": "Hi"}}
CONTENT = {
    "language": "en",
    "variables": {"1": "there"},
    "types": {"twilio/text": {"body": "Hi {{1}}"}, "twilio/card": {"title": "Hi {{1}}"}},
}
LISTS = [
    "/Messages",
    "/Messages/Operations",
    "/Senders",
    "/SenderPools",
    "/OptOuts",
    "/ApiKeys",
    "/Sinks",
    "/Subscriptions",
    "/Account",
    "/Content",
]


@dataclass
class Finding:
    problem: str
    example: str
    count: int = 1


def _created(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(path, json=body)
    assert response.status_code in (201, 202), response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture
def receiver() -> Iterator[str]:
    """A webhook receiver on loopback that takes every delivery (a failing one would be
    retried for the rest of the session)."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.expect_request(re.compile("^/")).respond_with_data("", status=204)
    server.start()
    try:
        yield server.url_for("").rstrip("/")
    finally:
        server.clear()
        server.stop()


def _prepare(server: ThreadServer, n: int, receiver: str) -> Account:
    """A new account with a few objects of every kind (account `n`'s own addresses)."""
    sid, token = server.new_account()
    with httpx.Client(base_url=server.url + "/v1", auth=(sid, token), timeout=30) as api:
        senders = [
            _created(api, "/Senders", {"address": f"+1206555{n}{i:03d}", "channel": "SMS"})["id"]
            for i in range(5)
        ]
        pools = [
            _created(api, "/SenderPools", {"name": f"fuzz {i}", "senders": senders[:3]})["id"]
            for i in range(2)
        ]
        scheduled = {**SEND, "schedule": {"sendAt": ["2035-01-01T00:00:00Z"]}}
        operations = [_created(api, "/Messages", body)["operationId"] for body in (scheduled, SEND)]
        wait_completed(api, operations[1])
        messages = api.get("/Messages", params={"operationId": operations[1]}).json()["messages"]
        sinks = [_created(api, "/Sinks", {"url": receiver + "/hook"})["id"] for _ in range(3)]
        subscriptions = [
            _created(api, "/Subscriptions", {"sinkId": sinks[0], "types": ["*"]})["id"]
            for _ in range(3)
        ]
        opt_outs = [f"+1415555{n}{i:03d}" for i in range(2)]
        for address in opt_outs:
            _created(api, "/OptOuts", {"address": address})
        keys = [_created(api, "/ApiKeys", {"friendlyName": "fuzz"}) for _ in range(3)]
        contents = [_created(api, "/Content", CONTENT)["sid"] for _ in range(3)]
    return Account(
        sid=sid,
        token=token,
        key=(keys[0]["sid"], keys[0]["secret"]),
        ids={
            "sender": senders[:3],
            "pool": pools[:1],
            "operation": operations,
            "message": [message["id"] for message in messages],
            "sink": sinks[:2],
            "subscription": subscriptions[:2],
            "optout": opt_outs[:1],
            "apikey": [keys[0]["sid"]],
            "content": contents[:2],
        },
        expendable={
            "sender": senders[3:],
            "pool": pools[1:],
            "sink": sinks[2:],
            "subscription": subscriptions[2:],
            "optout": opt_outs[1:],
            "apikey": [key["sid"] for key in keys[1:]],
            "content": contents[2:],
        },
    )


def _problem(request: FuzzRequest, response: httpx.Response) -> tuple[str, str] | None:
    """What a client would find wrong with the answer: (kind, details), or None."""
    status = response.status_code
    if status >= 500:
        return f"{status}", response.text[:300]
    if status >= 400:
        try:
            assert_error(response, status)
        except AssertionError as error:
            return f"{status} without the contract's error body", str(error)[:300]
        return None
    if request.foreign:
        return f"{status} on another account's object", response.text[:300]
    if request.foreign_query and status == 200:
        lists = [value for value in response.json().values() if isinstance(value, list)]
        if any(lists):
            return "a list filtered by another account's id is not empty", response.text[:300]
    return None


def _send(client: httpx.Client, request: FuzzRequest) -> tuple[int, tuple[str, str] | None]:
    """The answer's status, and what is wrong with it (0: no answer)."""
    try:
        response = client.request(
            request.method, request.url, content=request.body, headers=request.headers
        )
    except httpx.HTTPError as error:  # a stall or a dropped connection
        return 0, (f"no answer: {type(error).__name__}", str(error)[:300])
    return response.status_code, _problem(request, response)


class Senders:
    """Sends the requests queued by the generator on `WORKERS` connections at once (the
    generator, not the server, is the slower half), and keeps the score."""

    def __init__(self, server: ThreadServer) -> None:
        self.statuses: Counter[int] = Counter()
        self.findings: dict[tuple[str, str], Finding] = {}
        self.slowest: list[tuple[float, str]] = []  # for the printed summary, not asserted
        self._queue: queue.Queue[FuzzRequest | None] = queue.Queue(maxsize=WORKERS * 4)
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, args=(server.url,), daemon=True)
            for _ in range(WORKERS)
        ]

    def __enter__(self) -> Senders:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        for _thread in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()

    def put(self, request: FuzzRequest) -> None:
        self._queue.put(request)

    def _work(self, base_url: str) -> None:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            while (request := self._queue.get()) is not None:
                started = time.monotonic()
                status, problem = _send(client, request)
                with self._lock:
                    self._record(request, status, problem, time.monotonic() - started)

    def _record(
        self, request: FuzzRequest, status: int, problem: tuple[str, str] | None, seconds: float
    ) -> None:
        self.statuses[status] += 1
        self.slowest = heapq.nlargest(3, [*self.slowest, (seconds, request.route)])
        if problem is None:
            return
        kind, details = problem
        found = self.findings.get((request.route, kind))
        if found is None:
            self.findings[(request.route, kind)] = Finding(details, request.describe())
        else:
            found.count += 1


def _run(server: ThreadServer, accounts: tuple[Account, Account], receiver: str) -> Senders:
    with Senders(server) as senders:

        @settings(
            max_examples=REQUESTS,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(request=fuzz_requests(accounts, receiver))
        def generate(request: FuzzRequest) -> None:
            senders.put(request)

        generate()
    return senders


def _report(findings: dict[tuple[str, str], Finding]) -> str:
    return "\n".join(
        f"- {route}: {kind} (x{found.count})\n    request: {found.example}\n    {found.problem}"
        for (route, kind), found in sorted(findings.items())
    )


def _assert_sends(server: ThreadServer, auth: tuple[str, str], n: int) -> None:
    """The account's lists answer, and a send from a new sender is delivered."""
    with httpx.Client(base_url=server.url + "/v1", auth=auth, timeout=30) as api:
        for path in LISTS:
            response = api.get(path)
            assert response.status_code == 200, f"{path}: {response.text}"
        sender = _created(api, "/Senders", {"address": f"+1206555{n}999", "channel": "SMS"})
        pool = _created(api, "/SenderPools", {"name": "after", "senders": [sender["id"]]})
        body = {
            "to": [{"address": f"+1415555{n}999", "channel": "PHONE"}],
            "content": {"text": "Still here"},
            "from": {"senderPoolId": pool["id"]},
        }
        operation = wait_completed(api, _created(api, "/Messages", body)["operationId"])
        assert operation["stats"]["delivered"] == 1, operation


def _delete_sinks(server: ThreadServer, auth: tuple[str, str]) -> None:
    """Drop the account's sinks: once the receiver is gone they would be retried for the
    rest of the session."""
    with httpx.Client(base_url=server.url + "/v1", auth=auth, timeout=30) as api:
        for sink in api.get("/Sinks", params={"pageSize": 1000}).json()["sinks"]:
            assert api.delete(f"/Sinks/{sink['id']}").status_code == 204


def test_ten_thousand_hostile_requests_answer_no_server_error(
    server: ThreadServer, receiver: str
) -> None:
    accounts = (_prepare(server, 1, receiver), _prepare(server, 2, receiver))
    started = time.monotonic()

    run = _run(server, accounts, receiver)

    total, seconds = sum(run.statuses.values()), time.monotonic() - started
    engine = server.settings.server.database_url.split(":", 1)[0]
    slowest = ", ".join(f"{route} {took:.1f}s" for took, route in run.slowest)
    print(
        f"fuzz on {engine}: {total} requests in {seconds:.0f}s, "
        f"statuses {dict(sorted(run.statuses.items()))}; slowest: {slowest}"
    )
    assert not run.findings, f"{len(run.findings)} problems:\n{_report(run.findings)}"
    assert total >= REQUESTS
    for n, account in enumerate(accounts, start=1):
        _assert_sends(server, (account.sid, account.token), n)
        _delete_sinks(server, (account.sid, account.token))
    _assert_sends(server, server.new_account(), 3)
